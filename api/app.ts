import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import getRawBody from 'raw-body';
import { newId } from '../core/ids';
import { findUnstorable, hasUnstorableText } from '../core/json-safety';
import { IllegalTransitionError } from '../core/run-status';
import { RunNotFoundError } from '../db/run-store';
import type { ApiDeps } from './deps';
import { createAuthenticator } from './auth';
import { HttpError, ValidationError, dialectOf, writeError } from './errors';
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

export const BODY_LIMIT_BYTES = 1024 * 1024;
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function allRoutes(deps: ApiDeps): RouteDef[] {
  const automations = new AutomationService(deps);
  const jobRuns = new JobRunService(deps);
  return [
    ...systemRoutes(deps), ...actionRunRoutes(deps), ...automationRoutes(deps, automations), ...automationRunRoutes(deps, automations),
    ...jobRoutes(deps, jobRuns), ...jobRunRoutes(deps, jobRuns), ...sdkRoutes(deps, jobRuns),
  ];
}

/** Reads a JSON body up to 1 MiB into ctx.state.body (undefined when empty). */
async function jsonBody(ctx: Context, next: Next) {
  for (const [name, value] of Object.entries(ctx.query)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && hasUnstorableText(v)) {
        throw new ValidationError([{ loc: ['query', name], msg: 'text may not contain NUL characters or unpaired surrogates', type: 'string_unicode' }]);
      }
    }
  }
  if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method) && ctx.req.headers['content-length'] !== '0') {
    let raw: string;
    try {
      raw = await getRawBody(ctx.req, { limit: BODY_LIMIT_BYTES, encoding: 'utf8' });
    } catch (err) {
      const e = err as { type?: string; status?: number };
      if (e.type === 'entity.too.large') throw new HttpError(413, 'request body larger than 1 MiB');
      throw new HttpError(400, 'could not read request body');
    }
    if (raw.trim() !== '') {
      try {
        ctx.state.body = JSON.parse(raw);
      } catch (err) {
        if (dialectOf(ctx.path) === 'strait') throw new HttpError(400, 'malformed JSON body');
        throw new ValidationError([{ loc: ['body', 0], msg: `JSON decode error: ${(err as Error).message}`, type: 'json_invalid' }]);
      }
      const bad = findUnstorable(ctx.state.body);
      if (bad) throw new ValidationError([{ loc: ['body', ...bad], msg: 'text may not contain NUL characters or unpaired surrogates', type: 'string_unicode' }]);
    }
  }
  await next();
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
      const route = (ctx.state.route as string) ?? (ctx.status === 404 ? 'unmatched' : ctx.path);
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
    deps.log.warn({ reqId: ctx.state.requestId, err: (err as Error).message }, 'dependency unavailable');
    return new HttpError(503, 'service temporarily unavailable', { 'Retry-After': '5' });
  }
  deps.log.error({ reqId: ctx.state.requestId, err: (err as Error)?.stack ?? String(err) }, 'unhandled error');
  return new HttpError(500, `internal error (request ${ctx.state.requestId})`);
}

/** Postgres or Temporal unreachable: a 503 the client may retry, never a 500. */
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string | number; name?: string; message?: string };
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ECONNRESET' || e?.code === '57P01' || e?.code === '57P03') return true;
  if (e?.name === 'ServiceError' || e?.name === 'KnexTimeoutError') return true;
  return /Connection terminated|connect ECONNREFUSED|UNAVAILABLE|Timeout acquiring a connection/.test(e?.message ?? '');
}
