import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { HttpError } from '../errors';
import { rows } from '../../db/sql';
import { ALL_TERMINAL_STATUSES } from '../../core/run-status';
import { route, type RouteDef } from '../route';

const tags = ['System'];

/** Health, readiness and metrics: public, for load balancers and Prometheus. */
export function systemRoutes(deps: ApiDeps): RouteDef[] {
  return [
    route({
      method: 'get', path: '/healthz', operationId: 'healthz', summary: 'The process is up', tags, public: true,
      responses: { 200: { description: 'Up', schema: z.object({ status: z.literal('ok') }) } },
      handler: async () => ({ body: { status: 'ok' } }),
    }),
    route({
      method: 'get', path: '/readyz', operationId: 'readyz', summary: 'Postgres and Temporal are reachable', tags, public: true,
      responses: {
        200: { description: 'Ready', schema: z.object({ status: z.literal('ready'), postgres: z.string(), temporal: z.string() }) },
        503: { description: 'A dependency is unreachable' },
      },
      handler: async () => {
        const timeout = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 3000))]);
        const [pg, temporal] = await Promise.allSettled([
          timeout(deps.knex.raw('select 1')),
          timeout(deps.temporal.connection.workflowService.getSystemInfo({})),
        ]);
        if (pg.status === 'rejected' || temporal.status === 'rejected') {
          const down = [pg.status === 'rejected' && 'postgres', temporal.status === 'rejected' && 'temporal'].filter(Boolean).join(', ');
          throw new HttpError(503, `not ready: ${down} unreachable`, { 'Retry-After': '5' });
        }
        return { body: { status: 'ready', postgres: 'ok', temporal: 'ok' } };
      },
    }),
    route({
      method: 'get', path: '/metrics', operationId: 'metrics', summary: 'Prometheus metrics', tags, public: true,
      responses: { 200: { description: 'Prometheus text format', schema: z.string(), contentType: 'text/plain' } },
      handler: async ({ ctx }) => {
        const counts = await rows<{ kind: string; status: string; n: string }>(
          deps.knex, 'select kind, status, count(*) as n from runs where status = any(?) group by kind, status', [ALL_TERMINAL_STATUSES],
        );
        deps.metrics.runsFinished.reset();
        for (const c of counts) deps.metrics.runsFinished.set({ kind: c.kind, status: c.status }, Number(c.n));
        ctx.type = deps.metrics.registry.contentType;
        return { body: await deps.metrics.registry.metrics() };
      },
    }),
  ];
}
