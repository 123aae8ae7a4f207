import Koa, { type Context } from 'koa';
import Router from '@koa/router';
import { newId } from '../core/ids';
import { IllegalTransitionError } from '../core/run-status';
import { RunNotFoundError } from '../db/run-store';
import type { ApiDeps } from './deps';
import { createAuthenticator } from './auth';
import { HttpError, writeError } from './errors';
import { jsonBody } from './body';
import { mount, type RouteDef } from './route';
import { buildOpenApi, DOCS_HTML } from './openapi';
import { actionRunRoutes } from './routes/action-runs';
import { systemRoutes } from './routes/system';
import { automationRoutes } from './routes/automations';
import { automationRunRoutes } from './routes/automation-runs';
import { AutomationService } from './services/automations';
import { JobRunService } from './services/job-runs';
import { jobRoutes } from './routes/jobs';
import { jobRunRoutes } from './routes/job-runs';
import { sdkRoutes } from './routes/sdk';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function allRoutes(deps: ApiDeps): RouteDef[] {
  const automations = new AutomationService(deps);
  const jobRuns = new JobRunService(deps);
  return [
    ...systemRoutes(deps), ...actionRunRoutes(deps), ...automationRoutes(deps, automations), ...automationRunRoutes(deps, automations),
    ...jobRoutes(deps, jobRuns), ...jobRunRoutes(deps, jobRuns), ...sdkRoutes(deps, jobRuns),
  ];
}

/** Builds the Koa app; it does not listen (api/server.ts does). */
export function createApp(deps: ApiDeps): Koa {
  const app = new Koa({ proxy: true });
  const routes = allRoutes(deps);
  const openapi = buildOpenApi(routes, { title: 'Tideway API', version: '0.1.0' });
  const router = new Router();
  router.get('/openapi.json', (ctx) => { ctx.body = openapi; });
  router.get('/docs', (ctx) => { ctx.type = 'html'; ctx.body = DOCS_HTML; });
  mount(router, routes, createAuthenticator(deps.knex));

  app.use(async (ctx, next) => {
    const given = ctx.get('x-request-id');
    ctx.state.requestId = REQUEST_ID.test(given) ? given : newId();
    ctx.set('X-Request-Id', ctx.state.requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new HttpError(404, 'Not Found');
    } catch (err) {
      writeError(ctx, toHttpError(err, ctx, deps));
    } finally {
      // A route template, never the raw path: a label per fuzzed or scanned URL would grow the metrics without bound.
      const route = (ctx.state.route as string) ?? (ctx._matchedRoute as string | undefined) ?? 'unmatched';
      const labels = { method: ctx.method, route, status: String(ctx.status) };
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics.requests.inc(labels);
      deps.metrics.latency.observe(labels, seconds);
      if (route !== '/healthz' && route !== '/metrics') {
        deps.log.info({ reqId: ctx.state.requestId, method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1000) }, 'request');
      }
    }
  });
  // Koa reports stream errors here; a client leaving an SSE stream is normal, not an error.
  app.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ERR_STREAM_PREMATURE_CLOSE' || err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
    deps.log.warn({ err: err.message }, 'response stream error');
  });
  // A request waits on an unreachable Temporal for a bounded time, then answers 503 (not a hang).
  app.use((ctx, next) => deps.temporal.connection.withDeadline(Date.now() + deps.config.temporalRequestTimeoutMs, next));
  app.use(jsonBody);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}

function toHttpError(err: unknown, ctx: Context, deps: ApiDeps): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof IllegalTransitionError) return new HttpError(409, err.message);
  if (err instanceof RunNotFoundError) return new HttpError(404, 'run not found');
  const status = (err as { status?: number }).status;
  if (status === 405 || status === 501) return new HttpError(405, 'Method Not Allowed');
  if (isUnavailable(err)) {
    deps.log.warn({ reqId: ctx.state.requestId, err: (err as Error).message, cause: String((err as Error).cause ?? '') || undefined }, 'dependency unavailable');
    return new HttpError(503, 'service temporarily unavailable', { 'Retry-After': '5' });
  }
  deps.log.error({ reqId: ctx.state.requestId, err: (err as Error)?.stack ?? String(err) }, 'unhandled error');
  return new HttpError(500, `internal error (request ${ctx.state.requestId})`);
}

/** Postgres or Temporal unreachable: a 503 the client may retry, never a 500. */
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string | number; name?: string; message?: string };
  const code = String(e?.code ?? '');
  // Node socket errors; Postgres class 08 (connection exception) and 57P01-57P03 (shutting down, cannot connect now).
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  if (e?.name === 'ServiceError' || e?.name === 'KnexTimeoutError') return true;
  return /Connection terminated|connect ECONNREFUSED|UNAVAILABLE|Timeout acquiring a connection|not queryable|the database system is (starting up|shutting down)/.test(e?.message ?? '');
}
