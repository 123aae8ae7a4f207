import type { Context } from 'koa';
import { z } from 'zod';
import { runTokenSecret, verifyRunToken } from '../../core/run-token';
import { isTerminal } from '../../core/run-status';
import type { RunRow } from '../../db/entities';
import type { ApiDeps } from '../deps';
import type { AuthContext } from '../auth';
import { HttpError } from '../errors';
import { route, type RouteDef } from '../route';
import { JobRunService } from '../services/job-runs';
import { iso } from './job-shapes';

const tags = ['Run callbacks'];
const Params = z.object({ runID: z.uuid() });
const Ok = z.object({ ok: z.literal(true) });

/**
 * The callback API a job endpoint uses during its run, authenticated by the run token of its
 * dispatch: a token for another run or a stale attempt is 401, a finished run is 410.
 */
export function sdkRoutes(deps: ApiDeps, svc = new JobRunService(deps)): RouteDef[] {
  let secret: Promise<string> | null = null;
  const getSecret = () => (secret ??= runTokenSecret(deps.config.runTokenSecret, (make) => svc.jobs.setting('run_token_secret', make)));

  async function authorize(ctx: Context, runId: string, opts: { allowTerminal?: boolean } = {}): Promise<{ run: RunRow; auth: AuthContext; attempt: number }> {
    const bearer = /^Bearer\s+(rt1\.\S+)$/i.exec(ctx.get('authorization') ?? '')?.[1];
    const token = ctx.get('x-run-token') || bearer;
    if (!token) throw new HttpError(401, 'missing run token (X-Run-Token)');
    const claims = verifyRunToken(await getSecret(), token);
    if (!claims || claims.runId !== runId) throw new HttpError(401, 'invalid run token for this run');
    const run = await deps.store.get(runId);
    if (!run || run.kind !== 'job') throw new HttpError(401, 'invalid run token for this run');
    if (isTerminal('job', run.status) && !opts.allowTerminal) throw new HttpError(410, `run is ${run.status}`);
    if (claims.attempt !== run.attempt) throw new HttpError(401, `stale run token: attempt ${claims.attempt}, the run is at attempt ${run.attempt}`);
    const project = await deps.knex.raw('select task_queue from projects where id = ?', [run.projectId]);
    const auth: AuthContext = {
      keyId: `run:${run.id}`, organizationId: run.organizationId, projectId: run.projectId, userId: run.createdBy ?? '',
      scopes: ['runs:write'], taskQueue: project.rows[0]?.task_queue ?? null, via: 'header',
    };
    return { run, auth, attempt: claims.attempt };
  }

  const post = <B extends z.ZodType>(path: string, summary: string, body: B, status: number, response: z.ZodType,
    handle: (a: { run: RunRow; auth: AuthContext; attempt: number; body: z.output<B>; ctx: Context }) => Promise<unknown>, description?: string) => route({
    method: 'post', path: `/v1/sdk/runs/{runID}/${path}`, operationId: `runCallback${path.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase())}`,
    summary, description, tags, runToken: true, params: Params, body,
    responses: { [status]: { description: summary, schema: response } },
    handler: async ({ params, body: b, ctx }) => {
      const a = await authorize(ctx, params.runID);
      return { status, body: await handle({ ...a, body: b as z.output<B>, ctx }) };
    },
  });

  const event = (run: RunRow, type: string, data: Record<string, unknown>, level = 'info', message?: string) =>
    deps.store.appendEvent(run.id, type, data, undefined, level, message);

  return [
    post('heartbeat', 'Heartbeat', z.object({}).passthrough(), 200, Ok, async ({ run }) => {
      await deps.store.patch(run.id, { heartbeatAt: new Date() });
      return { ok: true };
    }),
    post('log', 'Log a line', z.object({ message: z.string().min(1).max(100_000), level: z.enum(['debug', 'info', 'warn', 'error']).default('info'), data: z.unknown().optional() }), 201, Ok,
      async ({ run, body }) => { await event(run, 'log', { data: body.data ?? null }, body.level, body.message); return { ok: true }; }),
    post('progress', 'Report progress', z.object({ percent: z.number().min(0).max(100).optional(), message: z.string().max(10_000).optional(), current: z.number().optional(), total: z.number().optional(), unit: z.string().max(50).optional() }), 200, Ok,
      async ({ run, body }) => {
        await deps.store.patch(run.id, { progress: body });
        await event(run, 'progress', body, 'info', body.message ?? `progress ${body.percent ?? body.current ?? ''}`);
        return { ok: true };
      }),
    post('checkpoint', 'Save a checkpoint', z.object({ state: z.unknown(), source: z.string().max(255).optional() }), 201,
      z.object({ id: z.string(), sequence: z.int() }), async ({ run, body }) => {
        const row = await svc.jobs.addCheckpoint(run.id, body.state, body.source ?? null);
        return { id: String(row.id), sequence: row.sequence };
      }),
    post('output', 'Record a structured output', z.object({ output_key: z.string().min(1).max(255), schema: z.record(z.string(), z.unknown()).optional(), value: z.unknown() }), 201,
      z.object({ id: z.string() }), async ({ run, body }) => {
        if (body.schema) svc.validate(body.schema, body.value, 'value');
        const row = await svc.jobs.addOutput(run.id, { outputKey: body.output_key, schema: body.schema ?? null, value: body.value ?? null });
        return { id: String(row.id) };
      }, 'The value is validated against `schema` when one is given (422 otherwise).'),
    post('usage', 'Record model usage', z.object({
      provider: z.string().min(1).max(100), model: z.string().min(1).max(200), prompt_tokens: z.int().min(0), completion_tokens: z.int().min(0),
      total_tokens: z.int().min(0).optional(), cost_microusd: z.int().min(0).optional(),
    }), 201, z.object({ id: z.string() }), async ({ run, body }) => {
      const row = await svc.jobs.addUsage(run.id, {
        provider: body.provider, model: body.model, promptTokens: body.prompt_tokens, completionTokens: body.completion_tokens,
        totalTokens: body.total_tokens ?? body.prompt_tokens + body.completion_tokens, costMicrousd: body.cost_microusd ?? 0,
      });
      return { id: String(row.id) };
    }),
    post('tool-call', 'Record a tool call', z.object({
      tool_name: z.string().min(1).max(255), input: z.unknown().optional(), output: z.unknown().optional(), duration_ms: z.int().min(0).default(0),
      status: z.string().min(1).max(50).default('success'),
    }), 201, z.object({ id: z.string() }), async ({ run, body }) => {
      const row = await svc.jobs.addToolCall(run.id, { toolName: body.tool_name, input: body.input ?? null, output: body.output ?? null, durationMs: body.duration_ms, status: body.status });
      return { id: String(row.id) };
    }),
    post('stream', 'Send a stream chunk', z.object({ chunk: z.string().max(1_000_000), stream_id: z.string().max(255).optional(), done: z.boolean().optional() }), 202, Ok,
      async ({ run, body }) => {
        await event(run, 'stream.chunk', { chunk: body.chunk, stream_id: body.stream_id ?? 'default', done: body.done ?? false }, 'debug', 'stream chunk');
        return { ok: true };
      }, 'Relayed live to subscribers of GET /v1/runs/{runID}/stream/chunks.'),
    post('state', 'Set a state value', z.object({ key: z.string().min(1).max(255), value: z.unknown() }), 200, Ok,
      async ({ run, body }) => { await svc.jobs.setState(run.id, body.key, body.value ?? null); return { ok: true }; }),
    route({
      method: 'get', path: '/v1/sdk/runs/{runID}/state/{key}', operationId: 'runCallbackGetState', summary: 'Get a state value', tags, runToken: true,
      params: z.object({ runID: z.uuid(), key: z.string().min(1).max(255) }),
      responses: { 200: { description: 'The value', schema: z.object({ key: z.string(), value: z.unknown(), updated_at: z.string() }) } },
      handler: async ({ params, ctx }) => {
        await authorize(ctx, params.runID, { allowTerminal: true });
        const entry = (await svc.jobs.getState(params.runID, params.key)) as { key: string; value: unknown; updatedAt: Date } | null;
        if (!entry) throw new HttpError(404, `no state for key ${params.key}`);
        return { body: { key: entry.key, value: entry.value, updated_at: iso(entry.updatedAt)! } };
      },
    }),
    route({
      method: 'delete', path: '/v1/sdk/runs/{runID}/state/{key}', operationId: 'runCallbackDeleteState', summary: 'Delete a state value', tags, runToken: true,
      params: z.object({ runID: z.uuid(), key: z.string().min(1).max(255) }), responses: { 204: { description: 'Deleted', schema: null } },
      handler: async ({ params, ctx }) => {
        await authorize(ctx, params.runID);
        if (!(await svc.jobs.deleteState(params.runID, params.key))) throw new HttpError(404, `no state for key ${params.key}`);
        return { status: 204 };
      },
    }),
    post('spawn', 'Spawn a child run', z.object({ job_id: z.uuid(), payload: z.unknown().optional(), await_completion: z.boolean().default(false) }), 201,
      z.object({ run_id: z.uuid(), status: z.string() }), async ({ run, auth, body }) => {
        const job = await svc.job(auth, body.job_id).catch(() => { throw new HttpError(422, 'job_id: no such job'); });
        const { run: child } = await svc.trigger(auth, job, { payload: body.payload ?? {} }, { parent: run, triggeredBy: 'spawn', createdBy: run.createdBy });
        if (body.await_completion) await svc.awaitChild(run, child.id);
        return { run_id: child.id, status: child.status };
      }, 'With `await_completion`, the parent goes `waiting` until the child finishes.'),
    post('continue', 'Continue as a new run', z.object({ payload: z.unknown().optional() }), 201,
      z.object({ run_id: z.uuid(), lineage_depth: z.int() }), async ({ run, auth, body }) => {
        const job = await svc.job(auth, run.targetId!);
        const { run: next } = await svc.trigger(auth, job, {
          payload: body.payload ?? run.input, tags: run.tags, metadata: run.metadata as Record<string, string>, priority: run.priority,
        }, { continuationOf: run, triggeredBy: 'workflow', createdBy: run.createdBy });
        return { run_id: next.id, lineage_depth: next.lineageDepth };
      }, 'A new run of the same job with `continuation_of` = this run and `lineage_depth` + 1 (at most 10).'),
    post('complete', 'Complete the run', z.object({ result: z.unknown().optional() }), 200, Ok, async ({ run, attempt, body }) => {
      await svc.complete(run, { outcome: 'completed', result: body.result ?? null, attempt });
      return { ok: true };
    }),
    post('fail', 'Fail the run', z.object({ error: z.string().min(1).max(100_000) }), 200, Ok, async ({ run, attempt, body }) => {
      await svc.complete(run, { outcome: 'failed', error: body.error, attempt });
      return { ok: true };
    }, 'The run ends `failed` (no retry).'),
  ];
}
