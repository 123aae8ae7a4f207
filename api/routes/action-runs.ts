import { z } from 'zod';
import { iso, seconds } from '../format';
import { ACTION_KINDS } from '../../core/action-kinds';
import { ACTION_STATUSES } from '../../core/run-status';
import type { RunLogRow, RunRow } from '../../db/entities';
import type { ApiDeps } from '../deps';
import { route, type RouteDef } from '../route';
import { ActionRunService } from '../services/action-runs';
import { resumeCursor, streamSse } from '../sse';

const nullable = <T extends z.ZodType>(t: T) => t.nullable();

export const ActionRunSchema = z.object({
  actionId: nullable(z.string()),
  completedAt: nullable(z.iso.datetime()),
  concurrencyKey: nullable(z.string()),
  createdAt: z.iso.datetime(),
  definition: nullable(z.record(z.string(), z.unknown())),
  displayStatus: z.string(),
  durationSeconds: nullable(z.number()),
  error: nullable(z.record(z.string(), z.unknown())),
  id: z.uuid(),
  idempotencyKey: nullable(z.string()),
  interruptCount: z.int(),
  kind: z.enum(ACTION_KINDS),
  parentActionRunId: nullable(z.uuid()),
  progress: nullable(z.record(z.string(), z.unknown())),
  result: z.unknown().nullable(),
  retryCount: z.int(),
  startedAt: nullable(z.iso.datetime()),
  status: z.enum(ACTION_STATUSES),
  triggerMethod: z.string(),
  triggerSourceId: nullable(z.string()),
  triggerSourceType: z.string(),
  updatedAt: z.iso.datetime(),
});

const UserRef = z.object({ id: z.string(), firstName: nullable(z.string()), lastName: nullable(z.string()), profilePictureUrl: nullable(z.string()) });

const ListResponse = z.object({
  hasNext: z.boolean(), limit: z.int(), offset: z.int(), runs: z.array(ActionRunSchema), total: z.int(),
  users: z.record(z.string(), UserRef),
});

const LogEntry = z.object({
  attempt: z.int(), data: z.unknown().nullable(), event: z.string(), id: z.string(),
  level: z.enum(['debug', 'info', 'warn', 'error']), message: z.string(), occurredAt: z.iso.datetime(), workerId: nullable(z.string()),
});
const LogsResponse = z.object({ entries: z.array(LogEntry), hasMore: z.boolean(), nextCursor: nullable(z.string()) });

const STATUS_LABELS: Record<string, string> = {
  pending: 'Pending', queued: 'Queued', running: 'Running', waiting_approval: 'Awaiting approval',
  pausing: 'Pausing', paused: 'Paused', cancelling: 'Cancelling', completed: 'Completed', failed: 'Failed',
  cancelled: 'Cancelled', rejected: 'Rejected',
};

/** "Retrying (2/3)" while an automatic retry is under way, else the status in words. */
export function displayStatus(run: Pick<RunRow, 'status' | 'attempt' | 'maxAttempts'>): string {
  if (run.status === 'running' && run.attempt > 1) return `Retrying (${run.attempt}/${run.maxAttempts})`;
  return STATUS_LABELS[run.status] ?? run.status;
}

export function toActionRun(run: RunRow) {
  return {
    actionId: run.targetId,
    completedAt: iso(run.completedAt),
    concurrencyKey: run.concurrencyKey,
    createdAt: iso(run.createdAt)!,
    definition: (run.input as Record<string, unknown>) ?? null,
    displayStatus: displayStatus(run),
    durationSeconds: seconds(run.startedAt, run.completedAt),
    error: (run.error as Record<string, unknown>) ?? null,
    id: run.id,
    idempotencyKey: run.idempotencyKey,
    interruptCount: run.interruptCount,
    kind: run.executor,
    parentActionRunId: run.parentId,
    progress: (run.progress as Record<string, unknown>) ?? null,
    result: run.result ?? null,
    retryCount: run.retryCount,
    startedAt: iso(run.startedAt),
    status: run.status,
    triggerMethod: run.triggerMethod,
    triggerSourceId: run.triggerSourceId,
    triggerSourceType: run.triggerSourceType,
    updatedAt: iso(run.updatedAt)!,
  };
}

export function toLogEntry(l: RunLogRow) {
  return {
    attempt: l.attempt, data: l.data ?? null, event: l.event, id: String(l.id), level: l.level,
    message: l.message, occurredAt: iso(l.occurredAt)!, workerId: l.workerId,
  };
}

const RunIdParams = z.object({ run_id: z.uuid() });
const cursor = z.string().regex(/^\d{1,18}$/, 'must be a log entry id');
const one = { 200: { description: 'The run', schema: ActionRunSchema } };
const tags = ['Action runs'];

export function actionRunRoutes(deps: ApiDeps): RouteDef[] {
  const svc = new ActionRunService(deps);
  const verb = (name: 'execute' | 'approve' | 'cancel' | 'pause' | 'resume' | 'retry', summary: string, description: string) =>
    route({
      method: 'post', path: `/api/v1/action-runs/{run_id}/${name}`, operationId: `${name}ActionRun`, summary, description, tags,
      params: RunIdParams,
      responses: {
        ...one,
        409: { description: 'The run is in a status that does not allow this' },
        ...(name === 'approve' && { 403: { description: 'Self-approval is disabled for this run' } }),
      } as RouteDef['responses'],
      handler: async ({ auth, params }) => ({ body: toActionRun(await svc[name](auth, params.run_id)) }),
    });

  return [
    route({
      method: 'get', path: '/api/v1/action-runs', operationId: 'listActionRuns', summary: 'List runs', tags,
      query: z.strictObject({
        action_id: z.uuid().optional(),
        kind: z.enum(ACTION_KINDS).optional(),
        status: z.enum(ACTION_STATUSES).optional(),
        parent_action_run_id: z.uuid().optional(),
        limit: z.coerce.number().int().min(1).max(100).default(100),
        offset: z.coerce.number().int().min(0).default(0),
      }),
      responses: { 200: { description: 'A page of runs, newest first', schema: ListResponse } },
      handler: async ({ auth, query }) => {
        const { runs, total } = await svc.list(auth, {
          actionId: query.action_id, kind: query.kind, status: query.status, parentActionRunId: query.parent_action_run_id,
          limit: query.limit, offset: query.offset,
        });
        const ids = [...new Set(runs.flatMap((r) => (r.triggerSourceType === 'user' && r.triggerSourceId ? [r.triggerSourceId] : [])))];
        const users = Object.fromEntries((await svc.users(auth, ids)).map((u) => [u.id, u]));
        return {
          body: {
            hasNext: query.offset + runs.length < total, limit: query.limit, offset: query.offset,
            runs: runs.map(toActionRun), total, users,
          },
        };
      },
    }),
    route({
      method: 'post', path: '/api/v1/action-runs', operationId: 'createActionRun', summary: 'Create Run', tags, creates: '/api/v1/action-runs/{run_id}',
      description: 'Validates the definition against the kind and creates the run in `pending`; it starts with `execute`. A repeated `idempotencyKey` returns the existing run with 200.',
      body: z.strictObject({
        kind: z.enum(ACTION_KINDS),
        definition: z.record(z.string(), z.unknown()).nullable().optional(),
        concurrencyKey: z.string().min(1).max(255).nullable().optional(),
        idempotencyKey: z.string().min(1).max(255).nullable().optional(),
        parentActionRunId: z.uuid().nullable().optional(),
      }).meta({
        examples: [
          { kind: 'approval_gate', definition: { title: 'Publish the quarterly report?' } },
          { kind: 'http_request', definition: { url: 'https://example.com/api/ping', method: 'GET' }, idempotencyKey: 'ping-2026-01-01' },
        ],
      }),
      responses: {
        201: { description: 'Created', schema: ActionRunSchema },
        200: { description: 'An existing run with the same idempotency key', schema: ActionRunSchema },
      },
      handler: async ({ auth, body }) => {
        const { run, created } = await svc.create(auth, body);
        return { status: created ? 201 : 200, body: toActionRun(run) };
      },
    }),
    route({
      method: 'get', path: '/api/v1/action-runs/{run_id}', operationId: 'getActionRun', summary: 'Get Run', tags,
      params: RunIdParams, responses: one,
      handler: async ({ auth, params }) => ({ body: toActionRun(await svc.get(auth, params.run_id)) }),
    }),
    route({
      method: 'delete', path: '/api/v1/action-runs/{run_id}', operationId: 'deleteActionRun', summary: 'Delete Run', tags,
      description: 'Deletes a terminal run and its logs.',
      params: RunIdParams,
      responses: { 204: { description: 'Deleted', schema: null }, 409: { description: 'The run is not terminal' } },
      handler: async ({ auth, params }) => {
        await svc.delete(auth, params.run_id);
        return { status: 204 };
      },
    }),
    verb('approve', 'Approve Run', 'Moves a run waiting for approval on; an approval gate completes with {approved, approvedBy, approvedAt}.'),
    verb('cancel', 'Cancel Run', 'Cancels a non-terminal run and its child runs.'),
    verb('execute', 'Execute Run', 'Starts a pending run.'),
    verb('pause', 'Pause Run', 'Pauses a queued run, or a running one at its next safe point (409 for kinds without one).'),
    verb('resume', 'Resume Run', 'Resumes a paused run; it continues from its checkpoint on any worker.'),
    verb('retry', 'Retry Run', 'Re-runs a failed or cancelled run in place: same id, retryCount + 1.'),
    route({
      method: 'post', path: '/api/v1/action-runs/{run_id}/reject', operationId: 'rejectActionRun', summary: 'Reject Run', tags,
      params: RunIdParams,
      body: z.strictObject({ reason: z.string().max(10_000).nullable().optional() }),
      responses: { ...one, 409: { description: 'The run is not waiting for approval' } },
      handler: async ({ auth, params, body }) => ({ body: toActionRun(await svc.reject(auth, params.run_id, body.reason ?? null)) }),
    }),
    route({
      method: 'get', path: '/api/v1/action-runs/{run_id}/logs', operationId: 'getActionRunLogs', summary: 'Get Run Logs', tags,
      params: RunIdParams,
      query: z.strictObject({
        after: cursor.optional().describe('Cursor: return entries after this ID'),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
      responses: { 200: { description: 'Log entries, oldest first', schema: LogsResponse } },
      handler: async ({ auth, params, query }) => {
        await svc.get(auth, params.run_id);
        const page = await deps.store.logsAfter(params.run_id, query.after ?? null, query.limit + 1);
        const entries = page.slice(0, query.limit).map(toLogEntry);
        const hasMore = page.length > query.limit;
        return { body: { entries, hasMore, nextCursor: entries.length ? entries[entries.length - 1].id : (query.after ?? null) } };
      },
    }),
    route({
      method: 'get', path: '/api/v1/action-runs/{run_id}/logs/stream', operationId: 'streamActionRunLogs', summary: 'Stream Run Logs', tags,
      description: 'Server-Sent Events: history after the cursor, then live entries; closes after the terminal status entry. Resume with Last-Event-ID or `after`.',
      params: RunIdParams,
      query: z.strictObject({ after: cursor.optional().describe('Cursor: start streaming after this ID') }),
      responses: { 200: { description: 'An event stream of log entries', sse: true } },
      handler: async ({ auth, params, query, ctx }) => {
        await svc.get(auth, params.run_id);
        const after = resumeCursor(ctx, query.after);
        streamSse<RunLogRow>(ctx, deps.hub, {
          runId: params.run_id,
          key: `logs:${params.run_id}`,
          after,
          fetch: (a, limit) => deps.store.logsAfter(params.run_id, a, limit),
          event: (l) => l.event,
          data: toLogEntry,
          isEnd: (l) => l.event === 'status' && (l.data as { terminal?: boolean } | null)?.terminal === true,
          isFinished: () => deps.store.isFinished(params.run_id, 'action'),
        });
      },
    }),
  ];
}
