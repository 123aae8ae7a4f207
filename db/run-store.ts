import type { Knex } from '@mikro-orm/knex';
import type { RunEventRow, RunLogRow, RunRow } from './entities';
import { jsonb, one, rows } from './sql';
import { ALL_TERMINAL_STATUSES, IllegalTransitionError, canTransition, isTerminal, type RunKind } from '../core/run-status';

/** Channel on which every run write is announced; the payload is the run id. */
export const RUN_CHANNEL = 'tideway_run';

export interface NewRun {
  id: string;
  kind: RunKind;
  executor?: string | null;
  targetId?: string | null;
  targetVersionId?: string | null;
  targetVersion?: number | null;
  triggerType?: string | null;
  organizationId: string;
  projectId: string;
  createdBy?: string | null;
  status: string;
  input?: unknown;
  maxAttempts?: number;
  parentId?: string | null;
  rootId?: string;
  depth?: number;
  idempotencyKey?: string | null;
  concurrencyKey?: string | null;
  priority?: number;
  tags?: Record<string, string>;
  metadata?: Record<string, unknown>;
  triggerMethod?: string;
  triggerSourceType?: string;
  triggerSourceId?: string | null;
  batchId?: string | null;
  scheduledAt?: Date | null;
  expiresAt?: Date | null;
}

/** Fields a transition may set alongside the status. `undefined` leaves a field alone. */
export interface RunPatch {
  result?: unknown;
  error?: unknown;
  progress?: unknown;
  attempt?: number;
  retryCountIncrement?: boolean;
  interruptCountIncrement?: boolean;
  workflowRunId?: string | null;
  heartbeatAt?: Date | string | null;
  nextRetryAt?: Date | string | null;
  executionTrace?: unknown;
}

export interface LogInput {
  level?: 'debug' | 'info' | 'warn' | 'error';
  event?: string;
  message: string;
  data?: unknown;
  attempt?: number;
  workerId?: string | null;
  dedupeKey?: string | null;
}

export interface TransitionInput {
  runId: string;
  kind: RunKind;
  to: string;
  /** Only move from these statuses (a narrower guard than the table, e.g. a verb's own rule). */
  from?: readonly string[];
  patch?: RunPatch;
  /** Makes the transition idempotent: a retried activity with the same key is a no-op. */
  dedupeKey?: string | null;
  verb?: string;
  log?: Omit<LogInput, 'dedupeKey' | 'message'> & { message?: string };
  eventData?: Record<string, unknown>;
}

type Db = Knex | Knex.Transaction;

const lockRun = (trx: Knex.Transaction, runId: string) =>
  trx.raw('select pg_advisory_xact_lock(hashtextextended(?::text, 0))', [runId]);

export class RunNotFoundError extends Error {
  constructor(readonly runId: string) {
    super(`run ${runId} not found`);
    this.name = 'RunNotFoundError';
  }
}

export class RunStore {
  constructor(readonly knex: Knex) {}

  /** Inserts a run; with an idempotency key already taken, returns the existing run and created=false. */
  async insert(run: NewRun, db: Db = this.knex): Promise<{ run: RunRow; created: boolean }> {
    const inserted = await one<RunRow>(
      db,
      `insert into runs (id, kind, executor, target_id, organization_id, project_id, created_by, status, input,
         max_attempts, parent_id, root_id, depth, idempotency_key, concurrency_key, priority, tags, metadata,
         trigger_method, trigger_source_type, trigger_source_id, batch_id, scheduled_at, expires_at,
         target_version_id, target_version, trigger_type)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (organization_id, kind, coalesce(executor, ''), idempotency_key) where idempotency_key is not null
       do nothing
       returning *`,
      [
        run.id, run.kind, run.executor ?? null, run.targetId ?? null, run.organizationId, run.projectId,
        run.createdBy ?? null, run.status, jsonb(run.input), run.maxAttempts ?? 1, run.parentId ?? null,
        run.rootId ?? run.id, run.depth ?? 0, run.idempotencyKey ?? null, run.concurrencyKey ?? null,
        run.priority ?? 0, JSON.stringify(run.tags ?? {}), JSON.stringify(run.metadata ?? {}),
        run.triggerMethod ?? 'api', run.triggerSourceType ?? 'api_key', run.triggerSourceId ?? null,
        run.batchId ?? null, run.scheduledAt ?? null, run.expiresAt ?? null,
        run.targetVersionId ?? null, run.targetVersion ?? null, run.triggerType ?? null,
      ],
    );
    if (inserted) return { run: inserted, created: true };
    const existing = await one<RunRow>(
      db,
      `select * from runs where organization_id = ? and kind = ? and coalesce(executor, '') = ? and idempotency_key = ?`,
      [run.organizationId, run.kind, run.executor ?? '', run.idempotencyKey],
    );
    if (!existing) throw new Error('idempotency conflict without an existing run');
    return { run: existing, created: false };
  }

  get(runId: string, db: Db = this.knex): Promise<RunRow | null> {
    return one<RunRow>(db, 'select * from runs where id = ?', [runId]);
  }

  /** Whether the run is over (or gone): streams use it to close. */
  async isFinished(runId: string, kind: RunKind): Promise<boolean> {
    const run = await this.get(runId);
    return !run || isTerminal(kind, run.status);
  }

  async require(runId: string, db: Db = this.knex): Promise<RunRow> {
    const run = await this.get(runId, db);
    if (!run) throw new RunNotFoundError(runId);
    return run;
  }

  /**
   * Moves a run to `to` if its kind's status machine allows it from the current status, sets the
   * patch, and appends the status event and a log line, all in one transaction announced on
   * RUN_CHANNEL. With a dedupe key already recorded, it returns the run unchanged (a retried activity).
   */
  async transition(input: TransitionInput, outer?: Knex.Transaction): Promise<RunRow> {
    const work = async (trx: Knex.Transaction): Promise<RunRow> => {
      await lockRun(trx, input.runId);
      const current = await this.require(input.runId, trx);
      if (input.dedupeKey) {
        const seen = await one(trx, 'select 1 as seen from run_events where run_id = ? and dedupe_key = ?', [
          input.runId, input.dedupeKey,
        ]);
        if (seen) return current;
      }
      const from = current.status;
      const allowed = canTransition(input.kind, from, input.to) && (!input.from || input.from.includes(from));
      if (!allowed) throw new IllegalTransitionError(input.kind, from, input.to, input.verb);

      const sets: string[] = ['status = ?', 'updated_at = now()'];
      const vals: unknown[] = [input.to];
      const p = input.patch ?? {};
      const set = (col: string, val: unknown, cast = '') => { sets.push(`${col} = ?${cast}`); vals.push(val); };
      if (p.result !== undefined) set('result', jsonb(p.result), '::jsonb');
      if (p.error !== undefined) set('error', jsonb(p.error), '::jsonb');
      if (p.progress !== undefined) set('progress', jsonb(p.progress), '::jsonb');
      if (p.attempt !== undefined) set('attempt', p.attempt);
      if (p.workflowRunId !== undefined) set('workflow_run_id', p.workflowRunId);
      if (p.heartbeatAt !== undefined) set('heartbeat_at', p.heartbeatAt);
      if (p.nextRetryAt !== undefined) set('next_retry_at', p.nextRetryAt);
      if (p.retryCountIncrement) sets.push('retry_count = retry_count + 1');
      if (p.interruptCountIncrement) sets.push('interrupt_count = interrupt_count + 1');
      if (input.to === 'running' || input.to === 'executing') sets.push('started_at = coalesce(started_at, now())');
      if (isTerminal(input.kind, input.to)) sets.push('completed_at = now()');
      else if (isTerminal(input.kind, from)) sets.push('completed_at = null', 'started_at = null');

      const updated = await one<RunRow>(trx, `update runs set ${sets.join(', ')} where id = ? returning *`, [...vals, input.runId]);
      const data = { from, to: input.to, terminal: isTerminal(input.kind, input.to), ...input.eventData };
      await trx.raw(
        `insert into run_events (run_id, type, level, data, dedupe_key, message) values (?, 'status', 'info', ?::jsonb, ?, ?)`,
        [input.runId, JSON.stringify(data), input.dedupeKey ?? null, input.log?.message ?? `status ${from} → ${input.to}`],
      );
      const log = input.log ?? {};
      await this.insertLog(trx, input.runId, {
        attempt: updated!.retryCount + 1, ...log, message: log.message ?? `status ${from} → ${input.to}`, event: log.event ?? 'status', data: { ...data, ...(log.data as object) },
      });
      await trx.raw('select pg_notify(?, ?)', [RUN_CHANNEL, input.runId]);
      return updated!;
    };
    return outer ? work(outer) : this.knex.transaction(work);
  }

  /** Sets fields without a status change (progress, heartbeat) and announces it. */
  async patch(runId: string, patch: RunPatch): Promise<void> {
    const sets: string[] = ['updated_at = now()'];
    const vals: unknown[] = [];
    if (patch.progress !== undefined) { sets.push('progress = ?::jsonb'); vals.push(jsonb(patch.progress)); }
    if (patch.heartbeatAt !== undefined) { sets.push('heartbeat_at = ?'); vals.push(patch.heartbeatAt); }
    if (patch.attempt !== undefined) { sets.push('attempt = ?'); vals.push(patch.attempt); }
    if (patch.executionTrace !== undefined) { sets.push('execution_trace = ?::jsonb'); vals.push(jsonb(patch.executionTrace)); }
    if (patch.retryCountIncrement) sets.push('retry_count = retry_count + 1');
    await this.knex.raw(`update runs set ${sets.join(', ')} where id = ?`, [...vals, runId] as Knex.RawBinding[]);
  }

  /** Inserts one log line; `attempt` defaults to retryCount + 1 of the run. */
  private async insertLog(trx: Knex.Transaction, runId: string, log: LogInput): Promise<void> {
    const attempt = log.attempt ?? (await this.currentAttempt(trx, runId));
    await trx.raw(
      `insert into run_logs (run_id, attempt, worker_id, level, event, message, data, dedupe_key)
       values (?, ?, ?, ?, ?, ?, ?::jsonb, ?) on conflict do nothing`,
      [runId, attempt, log.workerId ?? null, log.level ?? 'info', log.event ?? 'log', log.message, jsonb(log.data), log.dedupeKey ?? null],
    );
  }

  private async currentAttempt(db: Db, runId: string): Promise<number> {
    return (await one<{ a: number }>(db, 'select retry_count + 1 as a from runs where id = ?', [runId]))?.a ?? 1;
  }

  /** Appends log lines in order (idempotent by dedupe key) and announces them. */
  async appendLogs(runId: string, logs: LogInput[]): Promise<void> {
    if (logs.length === 0) return;
    await this.knex.transaction(async (trx) => {
      await lockRun(trx, runId);
      const attempt = logs.some((l) => l.attempt === undefined) ? await this.currentAttempt(trx, runId) : undefined;
      for (const log of logs) await this.insertLog(trx, runId, { attempt, ...log });
      await trx.raw('select pg_notify(?, ?)', [RUN_CHANNEL, runId]);
    });
  }

  async appendEvent(runId: string, type: string, data: Record<string, unknown>, dedupeKey?: string, level = 'info', message?: string): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await lockRun(trx, runId);
      await trx.raw(
        `insert into run_events (run_id, type, level, data, dedupe_key, message) values (?, ?, ?, ?::jsonb, ?, ?) on conflict do nothing`,
        [runId, type, level, JSON.stringify(data), dedupeKey ?? null, message ?? null],
      );
      await trx.raw('select pg_notify(?, ?)', [RUN_CHANNEL, runId]);
    });
  }

  logsAfter(runId: string, after: string | null, limit: number): Promise<RunLogRow[]> {
    return rows<RunLogRow>(
      this.knex,
      'select * from run_logs where run_id = ? and id > ? order by id limit ?',
      [runId, after ?? '0', limit],
    );
  }

  eventsAfter(runId: string, after: string | null, limit: number): Promise<RunEventRow[]> {
    return rows<RunEventRow>(
      this.knex,
      'select * from run_events where run_id = ? and id > ? order by id limit ?',
      [runId, after ?? '0', limit],
    );
  }

  /** Every non-terminal descendant of a run, nearest first (for cascading cancellation). */
  activeDescendants(runId: string): Promise<RunRow[]> {
    return rows<RunRow>(
      this.knex,
      `with recursive tree as (
         select * from runs where parent_id = ?
         union all
         select r.* from runs r join tree t on r.parent_id = t.id
       )
       select * from tree where not (status = any(?)) order by depth, created_at`,
      [runId, ALL_TERMINAL_STATUSES],
    );
  }
}
