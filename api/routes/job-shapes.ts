import { z } from 'zod';
import { SANE_INSTANT, isSaneInstant } from '../../core/json-safety';
import { JOB_STATUSES } from '../../core/run-status';
import type { RunRow } from '../../db/entities';
import type { JobRow, RunWithCursor } from '../../db/job-store';
import type { RouteResponse } from '../route';

/** snake_case shapes of the /v1 surface (job-runs.txt). */
export { iso } from '../format';
import { iso } from '../format';

const Trace = z.object({
  queue_wait_ms: z.number(), dequeue_ms: z.number(), connect_ms: z.number(), ttfb_ms: z.number(),
  transfer_ms: z.number(), total_ms: z.number(), dispatch_ms: z.number(),
});

export const JobRunSchema = z.object({
  id: z.uuid(), job_id: z.uuid(), project_id: z.uuid(), status: z.enum(JOB_STATUSES), attempt: z.int(),
  payload: z.unknown(), result: z.unknown(), metadata: z.record(z.string(), z.unknown()), error: z.string().nullable(),
  triggered_by: z.string(), scheduled_at: z.string().nullable(), started_at: z.string().nullable(), finished_at: z.string().nullable(),
  heartbeat_at: z.string().nullable(), next_retry_at: z.string().nullable(), expires_at: z.string().nullable(),
  parent_run_id: z.uuid().nullable(), priority: z.int(), idempotency_key: z.string().nullable(), job_version: z.int().nullable(),
  workflow_step_run_id: z.string().nullable(), max_attempts_override: z.int().nullable(), timeout_secs_override: z.int().nullable(),
  retry_backoff: z.string().nullable(), retry_initial_delay_secs: z.number().nullable(), retry_max_delay_secs: z.number().nullable(),
  execution_trace: Trace.nullable(), debug_mode: z.boolean(), continuation_of: z.uuid().nullable(), lineage_depth: z.int(),
  tags: z.record(z.string(), z.string()), job_version_id: z.string().nullable(), created_by: z.string().nullable(),
  batch_id: z.uuid().nullable(), concurrency_key: z.string().nullable(), created_at: z.string(),
});

export function toJobRun(r: RunRow) {
  const error = r.error === null || r.error === undefined ? null : typeof r.error === 'string' ? r.error : JSON.stringify(r.error);
  return {
    id: r.id, job_id: r.targetId!, project_id: r.projectId, status: r.status, attempt: r.attempt, payload: r.input ?? {},
    result: r.result ?? null, metadata: r.metadata ?? {}, error, triggered_by: r.triggerMethod, scheduled_at: iso(r.scheduledAt),
    started_at: iso(r.startedAt), finished_at: iso(r.completedAt), heartbeat_at: iso(r.heartbeatAt), next_retry_at: iso(r.nextRetryAt),
    expires_at: iso(r.expiresAt), parent_run_id: r.parentId, priority: r.priority, idempotency_key: r.idempotencyKey,
    job_version: r.targetVersion, workflow_step_run_id: null, max_attempts_override: null, timeout_secs_override: null,
    retry_backoff: null, retry_initial_delay_secs: null, retry_max_delay_secs: null,
    execution_trace: (r.executionTrace as z.infer<typeof Trace>) ?? null, debug_mode: r.debugMode, continuation_of: r.continuationOf,
    lineage_depth: r.lineageDepth, tags: r.tags ?? {}, job_version_id: null, created_by: r.createdBy, batch_id: r.batchId,
    concurrency_key: r.concurrencyKey, created_at: iso(r.createdAt)!,
  };
}

export const JobSchema = z.object({
  id: z.uuid(), project_id: z.uuid(), name: z.string(), slug: z.string(), description: z.string().nullable(), endpoint_url: z.string(),
  max_attempts: z.int(), timeout_secs: z.int(), retry_strategy: z.enum(['exponential', 'linear', 'fixed']),
  retry_initial_delay_secs: z.number(), retry_max_delay_secs: z.number(), max_concurrency: z.int().nullable(),
  tags: z.record(z.string(), z.string()), payload_schema: z.record(z.string(), z.unknown()).nullable(), version: z.int(),
  created_at: z.string(), updated_at: z.string(),
});

export function toJob(j: JobRow) {
  return {
    id: j.id, project_id: j.projectId, name: j.name, slug: j.slug, description: j.description, endpoint_url: j.endpointUrl,
    max_attempts: j.maxAttempts, timeout_secs: j.timeoutSecs, retry_strategy: j.retryStrategy,
    retry_initial_delay_secs: j.retryInitialDelaySecs, retry_max_delay_secs: j.retryMaxDelaySecs, max_concurrency: j.maxConcurrency,
    tags: j.tags ?? {}, payload_schema: j.payloadSchema, version: j.version, created_at: iso(j.createdAt)!, updated_at: iso(j.updatedAt)!,
  };
}

/** Keyset pagination of the /v1 lists: bare array body; next cursor in X-Next-Cursor and Link. */
export function page<T extends { cursor: string }, U>(ctxUrl: URL, items: T[], limit: number, map: (t: T) => U): RouteResponse {
  const pageItems = items.slice(0, limit);
  const headers: Record<string, string> = {};
  if (items.length > limit && pageItems.length) {
    const next = pageItems[pageItems.length - 1].cursor;
    const url = new URL(ctxUrl);
    url.searchParams.set('cursor', next);
    headers['X-Next-Cursor'] = next;
    headers.Link = `<${url.pathname}${url.search}>; rel="next"`;
  }
  return { body: pageItems.map(map), headers };
}

/** A date-time both Postgres and JavaScript represent exactly; the document carries the same pattern. */
export const instant = () => z.iso.datetime({ offset: true })
  .refine(isSaneInstant, 'must be a date-time of year 1970 to 9998 with an offset within ±14:00')
  .meta({ pattern: SANE_INSTANT.source });

export const listQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: instant().optional().describe('created_at of the last row of the previous page (X-Next-Cursor)'),
};

export type RunsPage = RunWithCursor[];
