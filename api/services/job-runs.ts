import Ajv from 'ajv';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { newId } from '../../core/ids';
import { cancelRunAndWait } from '../../core/cancel';
import { isTerminal } from '../../core/run-status';
import { startRunWorkflow } from '../../core/temporal';
import type { RunRow } from '../../db/entities';
import { JobStore, type JobRow } from '../../db/job-store';
import { one, rows } from '../../db/sql';
import type { JobRunInput } from '../../workflows/job-run.workflow';
import {
  awaitChildUpdate, completeJobUpdate, debugModeSignal, pauseJobUpdate, rescheduleJobUpdate, restartJobUpdate, resumeJobUpdate,
  type JobCompletion,
} from '../../workflows/messages';
import { runSearchAttributes } from '../../workflows/search-attributes';
import type { AuthContext } from '../auth';
import type { ApiDeps } from '../deps';
import { sendRunUpdate } from './run-updates';
import { HttpError, conflict, notFound } from '../errors';

export interface TriggerBody {
  payload?: unknown;
  tags?: Record<string, string>;
  metadata?: Record<string, string>;
  scheduled_at?: string | null;
  priority?: number;
  ttl_secs?: number | null;
  concurrency_key?: string | null;
}

export interface TriggerOptions {
  idempotencyKey?: string | null;
  triggeredBy?: string;
  batchId?: string | null;
  parent?: RunRow | null;
  continuationOf?: RunRow | null;
  createdBy?: string | null;
}

const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;
const MAX_LINEAGE = 10;
export const REPLAYABLE = ['failed', 'timed_out', 'crashed', 'system_failed'];

/** The write side of job runs: triggers, verbs and bulk operations, each fully or not at all. */
export class JobRunService {
  readonly jobs: JobStore;
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private readonly schemaCache = new Map<string, ReturnType<Ajv['compile']>>();

  constructor(private readonly deps: ApiDeps) {
    this.jobs = new JobStore(deps.knex);
  }

  /** The key's project; a `project_id` naming another project is 404. */
  project(auth: AuthContext, projectId?: string): string {
    if (projectId && projectId !== auth.projectId) throw notFound('project');
    return auth.projectId;
  }

  async job(auth: AuthContext, id: string): Promise<JobRow> {
    const job = await this.jobs.getJob(id);
    if (!job || job.projectId !== auth.projectId) throw notFound('job');
    return job;
  }

  async run(auth: AuthContext, id: string): Promise<RunRow> {
    const run = await this.deps.store.get(id);
    if (!run || run.projectId !== auth.projectId || run.kind !== 'job') throw notFound('run');
    return run;
  }

  /** Compiles a JSON Schema once; an invalid schema is a 422 naming `what`. */
  compile(schema: unknown, what: string): ReturnType<Ajv['compile']> {
    const key = JSON.stringify(schema);
    let check = this.schemaCache.get(key);
    if (!check) {
      try {
        check = this.ajv.compile(schema as object);
      } catch (err) {
        throw new HttpError(422, `${what}: invalid JSON Schema: ${(err as Error).message}`);
      }
      if (this.schemaCache.size > 1000) this.schemaCache.clear();
      this.schemaCache.set(key, check);
    }
    return check;
  }

  /** Validates a value against a JSON Schema; the message names the failing paths. */
  validate(schema: unknown, value: unknown, what: string): void {
    const check = this.compile(schema, `${what} schema`);
    if (!check(value)) {
      throw new HttpError(422, `${what} does not match its schema: ${(check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`);
    }
  }

  private workflowInput(job: JobRow, run: RunRow, initialStatus: JobRunInput['initialStatus'], hasDependencies: boolean, attempt = 1): JobRunInput {
    return {
      runId: run.id, jobId: job.id, organizationId: run.organizationId,
      job: {
        endpointUrl: job.endpointUrl, maxAttempts: job.maxAttempts, timeoutSecs: job.timeoutSecs, retryStrategy: job.retryStrategy,
        retryInitialDelaySecs: job.retryInitialDelaySecs, retryMaxDelaySecs: job.retryMaxDelaySecs, maxConcurrency: job.maxConcurrency,
      },
      initialStatus, scheduledAt: run.scheduledAt ? new Date(run.scheduledAt).toISOString() : null,
      expiresAt: run.expiresAt ? new Date(run.expiresAt).toISOString() : null, concurrencyKey: run.concurrencyKey,
      priority: run.priority, attempt, hasDependencies, debugMode: run.debugMode,
      heartbeatTimeoutSecs: this.deps.config.activityHeartbeatTimeoutSecs, parentRunId: run.parentId,
    };
  }

  private async start(auth: { taskQueue: string | null }, job: JobRow, run: RunRow, input: JobRunInput): Promise<void> {
    await startRunWorkflow(this.deps.temporal, 'jobRunWorkflow', {
      workflowId: run.id,
      taskQueue: auth.taskQueue ?? this.deps.config.taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: runSearchAttributes('job', run.organizationId, run.projectId, input.initialStatus, job.slug),
      staticSummary: `job run · ${job.slug} · attempt ${input.attempt}`,
    });
  }

  /**
   * Creates a run of `job` and starts its workflow in one transaction. With an idempotency key
   * used by an active run, or one finished within 24 h, returns that run with hit = true.
   */
  async trigger(auth: AuthContext, job: JobRow, body: TriggerBody, opts: TriggerOptions = {}): Promise<{ run: RunRow; hit: boolean }> {
    if (job.payloadSchema) this.validate(job.payloadSchema, body.payload ?? {}, 'payload');
    const lineageDepth = opts.continuationOf ? opts.continuationOf.lineageDepth + 1 : 0;
    if (lineageDepth > MAX_LINEAGE) throw new HttpError(422, `lineage depth would exceed ${MAX_LINEAGE}`);
    const key = opts.idempotencyKey ?? null;
    const store = this.deps.store;
    const result = await store.knex.transaction(async (trx) => {
      if (key) {
        await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 2))', [`${job.id}:${key}`]);
        const existing = await one<RunRow>(trx, `select * from runs where organization_id = ? and kind = 'job' and executor = ? and idempotency_key = ?`, [auth.organizationId, job.id, key]);
        if (existing) {
          const fresh = !isTerminal('job', existing.status) || (existing.completedAt && Date.now() - new Date(existing.completedAt).getTime() < IDEMPOTENCY_WINDOW_MS);
          if (fresh) return { run: existing, hit: true };
          await trx.raw('update runs set idempotency_key = null where id = ?', [existing.id]);
        }
      }
      const deps = await this.jobs.dependencies(job.id, trx);
      const scheduledAt = body.scheduled_at ? new Date(body.scheduled_at) : null;
      const initial: JobRunInput['initialStatus'] = scheduledAt && scheduledAt.getTime() > Date.now() ? 'delayed' : deps.length ? 'waiting' : 'queued';
      const id = newId();
      const { run } = await store.insert({
        id, kind: 'job', executor: job.id, targetId: job.id, targetVersion: job.version, organizationId: auth.organizationId,
        projectId: job.projectId, createdBy: opts.createdBy ?? auth.userId, status: initial, input: body.payload ?? {},
        maxAttempts: job.maxAttempts, parentId: opts.parent?.id ?? null, rootId: opts.parent?.rootId ?? id,
        depth: opts.parent ? opts.parent.depth + 1 : 0, idempotencyKey: key, concurrencyKey: body.concurrency_key ?? null,
        priority: body.priority ?? 0, tags: body.tags ?? {}, metadata: body.metadata ?? {},
        triggerMethod: opts.triggeredBy ?? 'manual', triggerSourceType: opts.parent ? 'run' : 'api_key',
        triggerSourceId: opts.parent?.id ?? auth.keyId, batchId: opts.batchId ?? null, scheduledAt,
        expiresAt: body.ttl_secs ? new Date(Date.now() + body.ttl_secs * 1000) : null,
      }, trx);
      if (opts.continuationOf) {
        await trx.raw('update runs set continuation_of = ?, lineage_depth = ? where id = ?', [opts.continuationOf.id, lineageDepth, run.id]);
        run.continuationOf = opts.continuationOf.id;
        run.lineageDepth = lineageDepth;
      }
      await trx.raw(`insert into run_events (run_id, type, level, data, message) values (?, 'status', 'info', ?::jsonb, ?)`,
        [run.id, JSON.stringify({ from: null, to: initial, terminal: false, attempt: 0 }), `created ${initial}`]);
      await this.start(auth, job, run, this.workflowInput(job, run, initial, deps.length > 0));
      return { run, hit: false };
    });
    if (!result.hit) this.deps.metrics.runsStarted.inc({ kind: 'job' });
    return result;
  }

  /** DELETE /v1/runs/{id}: cancels a non-terminal run and its children. */
  async cancel(auth: AuthContext, run: RunRow): Promise<void> {
    if (isTerminal('job', run.status)) throw conflict(`cannot cancel run in status ${run.status}`);
    await cancelRunAndWait({ store: this.deps.store, client: this.deps.temporal }, run, 'canceled');
  }

  /** A new run with attempt 1 and the same payload, tags, metadata and priority. */
  async replay(auth: AuthContext, run: RunRow): Promise<RunRow> {
    if (!REPLAYABLE.includes(run.status)) throw conflict(`cannot replay run in status ${run.status}`);
    const job = await this.job(auth, run.targetId!);
    const { run: replayed } = await this.trigger(auth, job, {
      payload: run.input, tags: run.tags, metadata: run.metadata as Record<string, string>, priority: run.priority, concurrency_key: run.concurrencyKey,
    }, { triggeredBy: 'retry' });
    return replayed;
  }

  /** dead_letter → queued in place, attempt 1, a new workflow execution of the same run. */
  async dlqReplay(auth: AuthContext, run: RunRow): Promise<RunRow> {
    if (run.status !== 'dead_letter') throw conflict(`cannot dlq-replay run in status ${run.status}`);
    const job = await this.job(auth, run.targetId!);
    return this.deps.store.knex.transaction(async (trx) => {
      const moved = await this.deps.store.transition({
        runId: run.id, kind: 'job', to: 'queued', verb: 'dlq-replay', from: ['dead_letter'],
        patch: { attempt: 1, error: null, result: null, nextRetryAt: null }, log: { message: 'replayed from the dead-letter queue' },
      }, trx);
      await this.start(auth, job, moved, this.workflowInput(job, moved, 'queued', false));
      return moved;
    });
  }

  async reschedule(auth: AuthContext, run: RunRow, scheduledAt: string, payload?: unknown): Promise<RunRow> {
    if (!['delayed', 'queued'].includes(run.status)) throw conflict(`cannot reschedule run in status ${run.status}`);
    const job = await this.job(auth, run.targetId!);
    if (payload !== undefined) {
      if (job.payloadSchema) this.validate(job.payloadSchema, payload, 'payload');
      await this.deps.knex.raw('update runs set input = ?::jsonb, updated_at = now() where id = ?', [JSON.stringify(payload), run.id]);
    }
    await this.deps.knex.raw('update runs set scheduled_at = ? where id = ?', [scheduledAt, run.id]);
    await sendRunUpdate(this.deps.temporal, run, rescheduleJobUpdate, [{ scheduledAt }]);
    return this.run(auth, run.id);
  }

  async pause(auth: AuthContext, run: RunRow) { await sendRunUpdate(this.deps.temporal, run, pauseJobUpdate, []); return this.run(auth, run.id); }
  async resume(auth: AuthContext, run: RunRow) { await sendRunUpdate(this.deps.temporal, run, resumeJobUpdate, []); return this.run(auth, run.id); }

  async restart(auth: AuthContext, run: RunRow, machinePreset: string | null): Promise<RunRow> {
    if (!['executing', 'paused'].includes(run.status)) throw conflict(`cannot restart run in status ${run.status}`);
    if (machinePreset) await this.deps.knex.raw('update runs set machine_preset = ? where id = ?', [machinePreset, run.id]);
    await sendRunUpdate(this.deps.temporal, run, restartJobUpdate, [{ machinePreset }]);
    return this.run(auth, run.id);
  }

  async setDebug(run: RunRow, on: boolean): Promise<void> {
    await this.deps.knex.raw('update runs set debug_mode = ?, updated_at = now() where id = ?', [on, run.id]);
    if (!isTerminal('job', run.status)) await this.deps.temporal.workflow.getHandle(run.id).signal(debugModeSignal, { debugMode: on }).catch(() => undefined);
  }

  async resetIdempotencyKey(run: RunRow): Promise<void> {
    if (['dequeued', 'executing', 'waiting'].includes(run.status)) throw conflict(`cannot reset the idempotency key of a run in status ${run.status}`);
    await this.deps.knex.raw('update runs set idempotency_key = null, updated_at = now() where id = ?', [run.id]);
  }

  /** Callback `complete` / `fail`: the workflow accepts it only while executing at that attempt. */
  async complete(run: RunRow, completion: JobCompletion): Promise<void> {
    await sendRunUpdate(this.deps.temporal, run, completeJobUpdate, [completion]);
  }

  async awaitChild(run: RunRow, childRunId: string): Promise<void> {
    await sendRunUpdate(this.deps.temporal, run, awaitChildUpdate, [{ childRunId }]);
  }

  async bulkCancel(auth: AuthContext, ids: string[]) {
    const results: { id: string; status: string; error?: string }[] = [];
    for (const id of ids) {
      try {
        const run = await this.run(auth, id);
        await this.cancel(auth, run);
        results.push({ id, status: 'canceled' });
      } catch (err) {
        results.push({ id, status: 'error', error: (err as Error).message });
      }
    }
    const canceled = results.filter((r) => r.status === 'canceled').length;
    return { results, total: ids.length, canceled, failed: ids.length - canceled };
  }

  async activeRunIds(projectId: string, f: { job_id?: string; batch_id?: string; triggered_by?: string; status?: string }): Promise<string[]> {
    const where = ['project_id = ?', "kind = 'job'", 'not (status = any(?))'];
    const vals: unknown[] = [projectId, ['completed', 'failed', 'timed_out', 'crashed', 'system_failed', 'canceled', 'expired', 'dead_letter']];
    if (f.job_id) { where.push('target_id = ?'); vals.push(f.job_id); }
    if (f.batch_id) { where.push('batch_id = ?'); vals.push(f.batch_id); }
    if (f.triggered_by) { where.push('trigger_method = ?'); vals.push(f.triggered_by); }
    if (f.status) { where.push('status = ?'); vals.push(f.status); }
    return (await rows<{ id: string }>(this.deps.knex, `select id from runs where ${where.join(' and ')} order by created_at limit 10000`, vals)).map((r) => r.id);
  }
}
