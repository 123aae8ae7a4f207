import { WorkflowIdReusePolicy } from '@temporalio/client';
import { startRunWorkflow } from '../../core/temporal';
import { newId } from '../../core/ids';
import { cancelRunTree } from '../../core/cancel';
import { isTerminal } from '../../core/run-status';
import { parseDefinition, planAction, type AvailableKind } from '../../core/action-kinds';
import type { RunRow } from '../../db/entities';
import { boundedCount, rows, one } from '../../db/sql';
import type { ActionRunInput } from '../../workflows/action-run.workflow';
import { approveUpdate, pauseUpdate, rejectUpdate, resumeUpdate } from '../../workflows/messages';
import { runSearchAttributes } from '../../workflows/search-attributes';
import type { AuthContext } from '../auth';
import type { ApiDeps } from '../deps';
import { sendRunUpdate } from './run-updates';
import { HttpError, ValidationError, conflict, notFound } from '../errors';

export interface CreateActionRun {
  kind: string;
  definition?: Record<string, unknown> | null;
  concurrencyKey?: string | null;
  idempotencyKey?: string | null;
  parentActionRunId?: string | null;
}

/** The action-run list counts matching runs exactly up to this many, and estimates past it. */
export const EXACT_TOTAL_UP_TO = 10_000;

export interface ListFilter {
  actionId?: string;
  kind?: string;
  status?: string;
  parentActionRunId?: string;
  limit: number;
  offset: number;
}

/**
 * The write side of action runs: every verb checks the status machine, talks to Temporal, and
 * either takes effect fully or not at all.
 */
export class ActionRunService {
  constructor(private readonly deps: ApiDeps) {}

  /** A run of the caller's organization, or 404 (another organization's id never leaks). */
  async get(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.deps.store.get(runId);
    if (!run || run.organizationId !== auth.organizationId || run.kind !== 'action') throw notFound();
    return run;
  }

  validateDefinition(kind: string, definition: unknown): Record<string, unknown> {
    const parsed = parseDefinition(kind, definition);
    if (!parsed.ok) throw new ValidationError(parsed.issues.map((i) => ({ ...i, loc: ['body', ...i.loc] })));
    return parsed.value;
  }

  async create(auth: AuthContext, body: CreateActionRun): Promise<{ run: RunRow; created: boolean }> {
    const definition = this.validateDefinition(body.kind, body.definition);
    if (body.kind === 'call_automation') {
      const target = await one<{ organizationId: string }>(this.deps.knex, 'select organization_id from automations where id = ?', [definition.automationId]);
      if (target?.organizationId !== auth.organizationId) {
        throw new ValidationError([{ loc: ['body', 'definition', 'automationId'], msg: 'automation not found', type: 'value_error' }]);
      }
    }
    let parent: RunRow | null = null;
    if (body.parentActionRunId) {
      parent = await this.deps.store.get(body.parentActionRunId);
      if (!parent || parent.organizationId !== auth.organizationId) {
        throw new ValidationError([{ loc: ['body', 'parentActionRunId'], msg: 'parent run not found', type: 'value_error' }]);
      }
    }
    const id = newId();
    const plan = planAction(body.kind as AvailableKind, definition);
    return this.deps.store.insert({
      id,
      kind: 'action',
      executor: body.kind,
      organizationId: auth.organizationId,
      projectId: auth.projectId,
      createdBy: auth.userId,
      status: 'pending',
      input: definition,
      maxAttempts: plan.retry.maxAttempts,
      parentId: parent?.id ?? null,
      rootId: parent?.rootId ?? id,
      depth: parent ? parent.depth + 1 : 0,
      idempotencyKey: body.idempotencyKey ?? null,
      concurrencyKey: body.concurrencyKey ?? null,
      triggerMethod: 'api',
      triggerSourceType: 'user',
      triggerSourceId: auth.userId,
    });
  }

  /** pending → queued and the workflow started, in one transaction: both happen or neither. */
  async execute(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.get(auth, runId);
    if (run.status !== 'pending') throw conflict(`cannot execute run in status ${run.status}`);
    return this.startExecution(auth, run, { to: 'queued', verb: 'execute', message: 'execution requested' });
  }

  /** failed|cancelled → queued in place: same id, retryCount + 1, a new workflow execution. */
  async retry(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.get(auth, runId);
    if (run.status !== 'failed' && run.status !== 'cancelled') throw conflict(`cannot retry run in status ${run.status}`);
    return this.startExecution(auth, run, { to: 'queued', verb: 'retry', message: 'retry requested', retry: true });
  }

  private async startExecution(
    auth: AuthContext, run: RunRow, t: { to: string; verb: string; message: string; retry?: boolean },
  ): Promise<RunRow> {
    const { store, config } = this.deps;
    const started = await store.knex.transaction(async (trx) => {
      const updated = await store.transition(
        {
          runId: run.id, kind: 'action', to: t.to, verb: t.verb, from: t.retry ? ['failed', 'cancelled'] : ['pending'],
          patch: t.retry ? { retryCountIncrement: true, error: null, result: null, progress: null, attempt: 0 } : undefined,
          log: { message: t.message },
        },
        trx,
      );
      const input: ActionRunInput = {
        runId: run.id,
        organizationId: run.organizationId,
        executor: run.executor!,
        definition: run.input as Record<string, unknown>,
        plan: planAction(run.executor as AvailableKind, run.input as Record<string, unknown>),
        concurrencyKey: run.concurrencyKey,
        retryCount: updated.retryCount,
        heartbeatTimeoutSecs: config.activityHeartbeatTimeoutSecs,
      };
      await startRunWorkflow(this.deps.temporal, 'actionRunWorkflow', {
        workflowId: run.id,
        taskQueue: auth.taskQueue ?? config.taskQueue,
        args: [input],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        typedSearchAttributes: runSearchAttributes('action', run.organizationId, run.projectId, t.to, run.executor!),
        staticSummary: `action run · ${run.executor}`,
      });
      return updated;
    });
    this.deps.metrics.runsStarted.inc({ kind: 'action' });
    return started;
  }

  async approve(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.get(auth, runId);
    if (run.status !== 'waiting_approval') throw conflict(`cannot approve run in status ${run.status}`);
    const def = (run.input ?? {}) as Record<string, unknown>;
    if (def.selfApprovalDisabled === true && run.createdBy === auth.userId) {
      throw new HttpError(403, 'self-approval is disabled for this run: another user must approve it');
    }
    await sendRunUpdate(this.deps.temporal, run, approveUpdate, [{ by: auth.userId }]);
    return this.get(auth, runId);
  }

  async reject(auth: AuthContext, runId: string, reason: string | null): Promise<RunRow> {
    const run = await this.get(auth, runId);
    if (run.status !== 'waiting_approval') throw conflict(`cannot reject run in status ${run.status}`);
    await sendRunUpdate(this.deps.temporal, run, rejectUpdate, [{ by: auth.userId, reason }]);
    return this.get(auth, runId);
  }

  async pause(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.get(auth, runId);
    if (!['queued', 'running', 'waiting_approval'].includes(run.status)) throw conflict(`cannot pause run in status ${run.status}`);
    await sendRunUpdate(this.deps.temporal, run, pauseUpdate, []);
    return this.get(auth, runId);
  }

  async resume(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.get(auth, runId);
    if (run.status !== 'paused') throw conflict(`cannot resume run in status ${run.status}`);
    await sendRunUpdate(this.deps.temporal, run, resumeUpdate, []);
    return this.get(auth, runId);
  }

  /** Any non-terminal run; cascades to child runs. */
  async cancel(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.get(auth, runId);
    if (isTerminal('action', run.status) || run.status === 'cancelling') throw conflict(`cannot cancel run in status ${run.status}`);
    await cancelRunTree({ store: this.deps.store, client: this.deps.temporal }, run.id, 'cancelled by user', { includeRoot: true });
    return this.get(auth, runId);
  }

  async delete(auth: AuthContext, runId: string): Promise<void> {
    const run = await this.get(auth, runId);
    if (!isTerminal('action', run.status)) throw conflict(`cannot delete run in status ${run.status}`);
    const deleted = await this.deps.knex.raw(
      `delete from runs where id = ? and status = any(?)`, [run.id, ['completed', 'failed', 'cancelled', 'rejected']],
    );
    if (deleted.rowCount === 0) throw conflict('run changed status; not deleted');
  }

  async list(auth: AuthContext, f: ListFilter): Promise<{ runs: RunRow[]; total: number }> {
    const where = ['organization_id = ?', "kind = 'action'"];
    const vals: unknown[] = [auth.organizationId];
    if (f.actionId) { where.push('target_id = ?'); vals.push(f.actionId); }
    if (f.kind) { where.push('executor = ?'); vals.push(f.kind); }
    if (f.status) { where.push('status = ?'); vals.push(f.status); }
    if (f.parentActionRunId) { where.push('parent_id = ?'); vals.push(f.parentActionRunId); }
    const clause = where.join(' and ');
    // The offset is skipped in the index (ids only), not by reading the skipped runs.
    const [page, count] = await Promise.all([
      rows<RunRow>(this.deps.knex, `select runs.* from (select id, created_at from runs where ${clause} order by created_at desc, id desc limit ? offset ?) p
        join runs using (id) order by p.created_at desc, p.id desc`, [...vals, f.limit + 1, f.offset]),
      boundedCount(this.deps.knex, `from runs where ${clause}`, vals, EXACT_TOTAL_UP_TO),
    ]);
    const runs = page.slice(0, f.limit);
    // Past the bound `total` is an estimate, clamped to what this page proves, so hasNext stays exact.
    const more = page.length > f.limit;
    const total = more ? Math.max(count.count, f.offset + page.length) : runs.length ? f.offset + runs.length : Math.min(count.count, f.offset);
    return { runs, total };
  }

  async users(auth: AuthContext, ids: string[]) {
    if (ids.length === 0) return [];
    return rows<{ id: string; firstName: string | null; lastName: string | null; profilePictureUrl: string | null }>(
      this.deps.knex,
      'select id, first_name, last_name, profile_picture_url from users where organization_id = ? and id = any(?::uuid[])',
      [auth.organizationId, ids],
    );
  }
}
