import { z } from 'zod';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { JOB_STATUSES } from '../../core/run-status';
import type { RunEventRow, RunRow } from '../../db/entities';
import { rows } from '../../db/sql';
import type { ApiDeps } from '../deps';
import { HttpError } from '../errors';
import { route, type RouteDef } from '../route';
import { JobRunService, REPLAYABLE } from '../services/job-runs';
import { streamRunEvents } from '../sse';
import { JobRunSchema, instant, iso, listQuery, page, toJobRun } from './job-shapes';

const tags = ['Job runs'];
const RunParams = z.object({ runID: z.uuid() });
/** bulk-cancel-all needs at least one of these: never "everything". */
const BULK_FILTERS = ['job_id', 'batch_id', 'triggered_by', 'status'] as const;
const projectQuery = { project_id: z.string().optional().describe('Defaults to the API key\'s project; another project is 404') };

const EventSchema = z.object({ id: z.string(), run_id: z.uuid(), type: z.string(), level: z.string(), message: z.string(), data: z.unknown(), created_at: z.string() });
const CheckpointSchema = z.object({ id: z.string(), run_id: z.uuid(), sequence: z.int(), source: z.string().nullable(), state: z.unknown(), created_at: z.string() });
const UsageSchema = z.object({
  id: z.string(), run_id: z.uuid(), provider: z.string(), model: z.string(), prompt_tokens: z.int(), completion_tokens: z.int(),
  total_tokens: z.int(), cost_microusd: z.int(), created_at: z.string(),
});
const ToolCallSchema = z.object({
  id: z.string(), run_id: z.uuid(), tool_name: z.string(), input: z.unknown(), output: z.unknown(), duration_ms: z.int(), status: z.string(), created_at: z.string(),
});
const OutputSchema = z.object({ id: z.string(), run_id: z.uuid(), output_key: z.string(), schema: z.unknown(), value: z.unknown(), created_at: z.string() });
const BulkResult = z.object({
  results: z.array(z.object({ id: z.string(), status: z.string(), error: z.string().optional() })), total: z.int(), canceled: z.int(), failed: z.int(),
});

export const toEvent = (e: RunEventRow) => ({
  id: String(e.id), run_id: e.runId, type: e.type, level: e.level, message: (e as RunEventRow & { message?: string }).message ?? e.type,
  data: e.data ?? {}, created_at: iso(e.createdAt)!,
});
/** Snake-cased rows of the run's reports (checkpoints, usage, tool calls, outputs). */
const snake = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [
  k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v instanceof Date ? v.toISOString() : k === 'id' ? String(v) : typeof v === 'string' && /^\d+$/.test(v) && k.endsWith('Microusd') ? Number(v) : v,
]));

export function jobRunRoutes(deps: ApiDeps, svc = new JobRunService(deps)): RouteDef[] {
  const listOf = (table: 'run_checkpoints' | 'run_usage' | 'run_tool_calls' | 'run_outputs', path: string, summary: string, schema: z.ZodType) => route({
    method: 'get', path: `/v1/runs/{runID}/${path}`, operationId: `listRun${path.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase())}`, summary, tags,
    params: RunParams, query: z.object(listQuery),
    responses: { 200: { description: summary, schema: z.array(schema) } },
    handler: async ({ auth, params, query, ctx }) => {
      await svc.run(auth, params.runID);
      const items = (await svc.jobs.listOf(table, params.runID, query.limit + 1, query.cursor)).map((r) => ({ ...snake(r), cursor: iso(r.createdAt as Date)! }));
      return page(new URL(ctx.href), items, query.limit, ({ cursor: _c, ...rest }) => rest);
    },
  });

  const runStream = (path: string, summary: string, description: string, filter: (e: RunEventRow) => boolean, name: (e: RunEventRow) => string) => route({
    method: 'get', path: `/v1/runs/{runID}/${path}`, operationId: path === 'stream' ? 'streamRun' : 'streamRunChunks', summary, description, tags,
    params: RunParams, query: z.object({ after: z.string().regex(/^\d{1,18}$/).optional() }),
    responses: { 200: { description: 'An event stream', sse: true } },
    handler: async ({ auth, params, query, ctx }) => {
      await svc.run(auth, params.runID);
      streamRunEvents(ctx, deps, { id: params.runID, kind: 'job' }, { after: query.after, include: filter, event: name, data: toEvent });
    },
  });

  return [
    route({
      method: 'get', path: '/v1/runs', operationId: 'listRuns', summary: 'List runs', tags,
      query: z.object({
        ...projectQuery,
        status: z.enum(JOB_STATUSES).optional(),
        job_id: z.uuid().optional(),
        metadata_key: z.string().min(1).max(255).optional(),
        metadata_value: z.string().max(1000).optional(),
        triggered_by: z.string().max(50).optional().describe('Filter by trigger source (manual, cron, spawn, workflow, retry, event)'),
        batch_id: z.uuid().optional().describe('Filter runs by batch operation ID'),
        payload_contains: z.string().max(10_000).optional().describe('JSON object for JSONB containment filter on run payload')
          .meta({ contentMediaType: 'application/json', contentSchema: { type: 'object' } }),
        ...listQuery,
      }),
      responses: { 200: { description: 'Runs, newest first', schema: z.array(JobRunSchema) }, 400: { description: 'payload_contains is not a JSON object' } },
      handler: async ({ auth, query, ctx }) => {
        const projectId = svc.project(auth, query.project_id);
        let payloadContains: Record<string, unknown> | undefined;
        if (query.payload_contains !== undefined) {
          try { payloadContains = JSON.parse(query.payload_contains); } catch { /* checked below */ }
          if (!payloadContains || typeof payloadContains !== 'object' || Array.isArray(payloadContains)) throw new HttpError(400, 'payload_contains must be a JSON object');
        }
        if (query.metadata_value !== undefined && !query.metadata_key) throw new HttpError(400, 'metadata_value needs metadata_key');
        const items = await svc.jobs.listRuns({
          projectId, status: query.status, jobId: query.job_id, metadataKey: query.metadata_key, metadataValue: query.metadata_value,
          triggeredBy: query.triggered_by, batchId: query.batch_id, payloadContains, cursor: query.cursor, limit: query.limit + 1,
        });
        return page(new URL(ctx.href), items, query.limit, toJobRun);
      },
    }),
    route({
      method: 'get', path: '/v1/runs/dlq', operationId: 'listDeadLetteredRuns', summary: 'List dead-lettered runs', tags,
      query: z.object({ ...projectQuery, ...listQuery }),
      responses: { 200: { description: 'Dead-lettered runs, newest first', schema: z.array(JobRunSchema) } },
      handler: async ({ auth, query, ctx }) => {
        const projectId = svc.project(auth, query.project_id);
        return page(new URL(ctx.href), await svc.jobs.listRuns({ projectId, status: 'dead_letter', cursor: query.cursor, limit: query.limit + 1 }), query.limit, toJobRun);
      },
    }),
    route({
      method: 'post', path: '/v1/runs/bulk-cancel', operationId: 'bulkCancelRuns', summary: 'Cancel multiple runs', tags,
      body: z.object({ run_ids: z.array(z.string()).min(1).max(100) }),
      responses: { 200: { description: 'Per-run results', schema: BulkResult } },
      handler: async ({ auth, body }) => ({ body: await svc.bulkCancel(auth, body.run_ids) }),
    }),
    route({
      method: 'post', path: '/v1/runs/bulk-cancel-all', operationId: 'bulkCancelAllRuns', summary: 'Cancel all runs matching filters', tags,
      description: 'Needs at least one filter: never "everything".',
      query: z.object(projectQuery),
      body: z.object({ job_id: z.uuid().optional(), batch_id: z.uuid().optional(), triggered_by: z.string().optional(), status: z.enum(JOB_STATUSES).optional() })
        .meta({ anyOf: BULK_FILTERS.map((f) => ({ required: [f], properties: { [f]: { minLength: 1 } } })) }),
      responses: { 200: { description: 'Per-run results', schema: BulkResult }, 400: { description: 'No filter given' } },
      handler: async ({ auth, query, body }) => {
        const projectId = svc.project(auth, query.project_id);
        if (!BULK_FILTERS.some((f) => body[f])) throw new HttpError(400, `at least one filter of ${BULK_FILTERS.join(', ')} is required`);
        return { body: await svc.bulkCancel(auth, await svc.activeRunIds(projectId, body)) };
      },
    }),
    route({
      method: 'post', path: '/v1/runs/bulk-replay', operationId: 'bulkReplayRuns', summary: 'Replay multiple runs by ID', tags,
      body: z.object({ run_ids: z.array(z.string()).min(1).max(100) }),
      responses: { 200: { description: 'The new runs', schema: z.array(JobRunSchema) } },
      handler: async ({ auth, body }) => {
        const out: RunRow[] = [];
        for (const id of body.run_ids) {
          const run = await svc.run(auth, id).catch(() => null);
          if (run && REPLAYABLE.includes(run.status)) out.push(await svc.replay(auth, run));
        }
        return { body: out.map(toJobRun) };
      },
    }),
    route({
      method: 'post', path: '/v1/runs/bulk-dlq-replay', operationId: 'bulkDlqReplayRuns', summary: 'Bulk replay dead-lettered runs', tags,
      description: 'At most one of `run_ids` (up to 500) or `limit` (default 100, up to 500: the oldest dead-lettered runs).',
      query: z.object(projectQuery),
      body: z.object({ run_ids: z.array(z.string()).min(1).max(500).optional(), limit: z.int().min(1).max(500).optional() })
        .meta({ not: { required: ['run_ids', 'limit'] } }),
      responses: { 200: { description: 'The replayed runs', schema: z.object({ replayed: z.array(JobRunSchema), count: z.int() }) }, 400: { description: 'Both run_ids and limit given' } },
      handler: async ({ auth, query, body }) => {
        const projectId = svc.project(auth, query.project_id);
        if (body.run_ids && body.limit !== undefined) throw new HttpError(400, 'give exactly one of run_ids and limit');
        const ids = body.run_ids ?? (await rows<{ id: string }>(deps.knex,
          `select id from runs where project_id = ? and kind = 'job' and status = 'dead_letter' order by created_at limit ?`, [projectId, body.limit ?? 100])).map((r) => r.id);
        const replayed: RunRow[] = [];
        for (const id of ids) {
          const run = await svc.run(auth, id).catch(() => null);
          if (run?.status === 'dead_letter') replayed.push(await svc.dlqReplay(auth, run));
        }
        return { body: { replayed: replayed.map(toJobRun), count: replayed.length } };
      },
    }),
    route({
      method: 'get', path: '/v1/runs/{runID}', operationId: 'getRun', summary: 'Get a run', tags, params: RunParams,
      responses: { 200: { description: 'The run', schema: JobRunSchema } },
      handler: async ({ auth, params }) => ({ body: toJobRun(await svc.run(auth, params.runID)) }),
    }),
    route({
      method: 'delete', path: '/v1/runs/{runID}', operationId: 'cancelRun', summary: 'Cancel a run', tags, params: RunParams,
      description: 'Cancels a non-terminal run (409 if it is terminal) and its children.',
      responses: { 204: { description: 'Canceled', schema: null }, 409: { description: 'The run is terminal' } },
      handler: async ({ auth, params }) => {
        await svc.cancel(auth, await svc.run(auth, params.runID));
        return { status: 204 };
      },
    }),
    route({
      method: 'post', path: '/v1/runs/{runID}/replay', operationId: 'replayRun', summary: 'Replay a failed run', tags, params: RunParams, creates: '/v1/runs/{runID}',
      description: 'From failed, timed_out, crashed or system_failed: a new run with attempt 1 and the same payload, tags and priority.',
      responses: { 201: { description: 'The new run', schema: JobRunSchema }, 409: { description: 'Not replayable' } },
      handler: async ({ auth, params }) => ({ status: 201, body: toJobRun(await svc.replay(auth, await svc.run(auth, params.runID))) }),
    }),
    route({
      method: 'post', path: '/v1/runs/{runID}/dlq-replay', operationId: 'dlqReplayRun', summary: 'Replay a dead-lettered run', tags, params: RunParams,
      description: 'Moves a dead_letter run back to queued in place, with attempt 1.',
      responses: { 200: { description: 'The run', schema: JobRunSchema }, 409: { description: 'Not dead-lettered' } },
      handler: async ({ auth, params }) => ({ body: toJobRun(await svc.dlqReplay(auth, await svc.run(auth, params.runID))) }),
    }),
    runStream('stream', 'SSE event stream', 'Status changes and events: history first, then live; closes after the terminal status. Resume with Last-Event-ID or `after`.', () => true, (e) => (e.type === 'status' ? 'status' : e.type)),
    runStream('stream/chunks', 'SSE stream of LLM chunks', 'Stream chunks the run sends through the callback API, live; closes after the terminal status.',
      (e) => e.type === 'stream.chunk' || (e.type === 'status' && (e.data as { terminal?: boolean }).terminal === true), (e) => (e.type === 'status' ? 'status' : 'chunk')),
    route({
      method: 'get', path: '/v1/runs/{runID}/children', operationId: 'listRunChildren', summary: 'List child runs', tags,
      params: RunParams, query: z.object(listQuery), responses: { 200: { description: 'Child runs, newest first', schema: z.array(JobRunSchema) } },
      handler: async ({ auth, params, query, ctx }) => {
        const run = await svc.run(auth, params.runID);
        return page(new URL(ctx.href), await svc.jobs.listRuns({ projectId: run.projectId, parentId: run.id, cursor: query.cursor, limit: query.limit + 1 }), query.limit, toJobRun);
      },
    }),
    route({
      method: 'get', path: '/v1/runs/{runID}/events', operationId: 'listRunEvents', summary: 'List run events', tags,
      params: RunParams, query: z.object({ level: z.string().max(20).optional(), type: z.string().max(100).optional(), ...listQuery }),
      responses: { 200: { description: 'Events, oldest first', schema: z.array(EventSchema) } },
      handler: async ({ auth, params, query, ctx }) => {
        await svc.run(auth, params.runID);
        const where = ['run_id = ?'];
        const vals: unknown[] = [params.runID];
        if (query.level) { where.push('level = ?'); vals.push(query.level); }
        if (query.type) { where.push('type = ?'); vals.push(query.type); }
        if (query.cursor) { where.push('created_at > ?::timestamptz'); vals.push(query.cursor); }
        const got = await rows<RunEventRow & { message: string }>(deps.knex, `select * from run_events where ${where.join(' and ')} order by id limit ?`, [...vals, query.limit + 1]);
        return page(new URL(ctx.href), got.map((e) => ({ ...e, cursor: iso(e.createdAt)! })), query.limit, toEvent);
      },
    }),
    listOf('run_checkpoints', 'checkpoints', 'List run checkpoints', CheckpointSchema),
    listOf('run_usage', 'usage', 'List run AI model usage', UsageSchema),
    listOf('run_tool_calls', 'tool-calls', 'List run tool calls', ToolCallSchema),
    listOf('run_outputs', 'outputs', 'List run structured outputs', OutputSchema),
    route({
      method: 'get', path: '/v1/runs/{runID}/debug-bundle', operationId: 'getRunDebugBundle', summary: 'Get debug bundle', tags, params: RunParams,
      description: 'The run with its events, checkpoints, usage, tool calls and outputs, plus its Temporal event history.',
      responses: { 200: { description: 'Everything about the run', schema: z.object({ run: JobRunSchema, events: z.array(EventSchema), checkpoints: z.array(CheckpointSchema), usage: z.array(UsageSchema), tool_calls: z.array(ToolCallSchema), outputs: z.array(OutputSchema), history: z.unknown() }) } },
      handler: async ({ auth, params }) => {
        const run = await svc.run(auth, params.runID);
        const [events, checkpoints, usage, toolCalls, outputs, history] = await Promise.all([
          rows<RunEventRow>(deps.knex, 'select * from run_events where run_id = ? order by id limit 10000', [run.id]),
          svc.jobs.listOf('run_checkpoints', run.id, 10000), svc.jobs.listOf('run_usage', run.id, 10000),
          svc.jobs.listOf('run_tool_calls', run.id, 10000), svc.jobs.listOf('run_outputs', run.id, 10000),
          deps.temporal.workflow.getHandle(run.id).fetchHistory().then((h) => JSON.parse(historyToJSON(h))).catch(() => null),
        ]);
        return { body: { run: toJobRun(run), events: events.map(toEvent), checkpoints: checkpoints.map(snake), usage: usage.map(snake), tool_calls: toolCalls.map(snake), outputs: outputs.map(snake), history } };
      },
    }),
    route({
      method: 'post', path: '/v1/runs/{runID}/debug', operationId: 'setRunDebugMode', summary: 'Enable/disable debug mode', tags, params: RunParams,
      description: 'With debug mode on, every dispatch records its request, response and timings as run events.',
      body: z.object({ debug_mode: z.boolean().default(true) }), responses: { 204: { description: 'Set', schema: null } },
      handler: async ({ auth, params, body }) => {
        await svc.setDebug(await svc.run(auth, params.runID), body.debug_mode);
        return { status: 204 };
      },
    }),
    route({
      method: 'get', path: '/v1/runs/{runID}/lineage', operationId: 'listRunLineage', summary: 'List run continuation lineage', tags, params: RunParams,
      description: 'Every run of the continuation chain this run belongs to, from the first to the last.',
      responses: { 200: { description: 'The chain, oldest first', schema: z.array(JobRunSchema) } },
      handler: async ({ auth, params }) => {
        const run = await svc.run(auth, params.runID);
        const chain = await rows<RunRow>(deps.knex, `
          with recursive up as (select * from runs where id = ? union all select r.* from runs r join up on r.id = up.continuation_of),
          root as (select id from up where continuation_of is null limit 1),
          down as (select * from runs where id = (select id from root) union all select r.* from runs r join down on r.continuation_of = down.id)
          select * from down where project_id = ? order by lineage_depth, created_at limit 100`, [run.id, auth.projectId]);
        return { body: chain.map(toJobRun) };
      },
    }),
    route({
      method: 'get', path: '/v1/runs/{runID}/dependency-status', operationId: 'getRunDependencyStatus', summary: 'Get dependency status for a run', tags, params: RunParams,
      responses: { 200: { description: 'The latest run of each dependency', schema: z.object({ run_id: z.uuid(), job_id: z.uuid(), status: z.enum(JOB_STATUSES), dependencies: z.array(JobRunSchema), dependencies_satisfied: z.boolean() }) } },
      handler: async ({ auth, params }) => {
        const run = await svc.run(auth, params.runID);
        const { runs, verdicts } = await svc.jobs.dependencyStatus(run.targetId!, run.projectId, run.createdAt);
        return { body: { run_id: run.id, job_id: run.targetId, status: run.status, dependencies: runs.filter((r): r is RunRow => !!r).map(toJobRun), dependencies_satisfied: verdicts.every((v) => v === 'satisfied') } };
      },
    }),
    route({
      method: 'delete', path: '/v1/runs/{runID}/idempotency-key', operationId: 'resetRunIdempotencyKey', summary: 'Reset idempotency key for a run', tags, params: RunParams,
      description: 'Frees the key for new triggers, unless the run is dequeued, executing or waiting (409).',
      responses: { 200: { description: 'Reset', schema: z.object({ status: z.string(), run_id: z.uuid() }) }, 409: { description: 'The run is in flight' } },
      handler: async ({ auth, params }) => {
        await svc.resetIdempotencyKey(await svc.run(auth, params.runID));
        return { body: { status: 'reset', run_id: params.runID } };
      },
    }),
    route({
      method: 'post', path: '/v1/runs/{runID}/reschedule', operationId: 'rescheduleRun', summary: 'Reschedule a run', tags, params: RunParams,
      description: 'Only while delayed or queued and not started.',
      body: z.object({ scheduled_at: instant(), payload: z.unknown().optional() }),
      responses: { 200: { description: 'The run', schema: JobRunSchema }, 409: { description: 'Already started' } },
      handler: async ({ auth, params, body }) => ({ body: toJobRun(await svc.reschedule(auth, await svc.run(auth, params.runID), body.scheduled_at, body.payload)) }),
    }),
    route({
      method: 'post', path: '/v1/runs/{runID}/pause', operationId: 'pauseRun', summary: 'Pause a managed run', tags, params: RunParams,
      description: 'executing (aborting the in-flight dispatch) or queued → paused.',
      responses: { 200: { description: 'The run', schema: JobRunSchema }, 409: { description: 'Not pausable now' } },
      handler: async ({ auth, params }) => ({ body: toJobRun(await svc.pause(auth, await svc.run(auth, params.runID))) }),
    }),
    route({
      method: 'post', path: '/v1/runs/{runID}/resume', operationId: 'resumeRun', summary: 'Resume a paused run', tags, params: RunParams,
      description: 'paused → queued, same attempt.',
      responses: { 200: { description: 'The run', schema: JobRunSchema }, 409: { description: 'Not paused' } },
      handler: async ({ auth, params }) => ({ body: toJobRun(await svc.resume(auth, await svc.run(auth, params.runID))) }),
    }),
    route({
      method: 'post', path: '/v1/runs/{runID}/restart', operationId: 'restartRun', summary: 'Restart a managed run with optional preset override', tags, params: RunParams,
      description: 'Re-dispatches an executing or paused run from the start of its current attempt; the preset reaches the endpoint as X-Machine-Preset.',
      body: z.object({ machine_preset: z.string().min(1).max(100).nullable().optional() }),
      responses: { 200: { description: 'The run', schema: JobRunSchema }, 409: { description: 'Not executing or paused' } },
      handler: async ({ auth, params, body }) => ({ body: toJobRun(await svc.restart(auth, await svc.run(auth, params.runID), body.machine_preset ?? null)) }),
    }),
    route({
      method: 'get', path: '/v1/runs/{runID}/state', operationId: 'getRunState', summary: 'List run state (management API)', tags, params: RunParams,
      description: 'The key-value state the run wrote through the callback API.',
      responses: { 200: { description: 'State entries', schema: z.array(z.object({ key: z.string(), value: z.unknown(), updated_at: z.string() })) } },
      handler: async ({ auth, params }) => {
        await svc.run(auth, params.runID);
        const entries = (await svc.jobs.getState(params.runID)) as { key: string; value: unknown; updatedAt: Date }[];
        return { body: entries.map((e) => ({ key: e.key, value: e.value, updated_at: iso(e.updatedAt)! })) };
      },
    }),
  ];
}
