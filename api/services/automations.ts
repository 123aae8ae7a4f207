import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { ACTION_KINDS } from '../../core/action-kinds';
import { parseDefinition } from '../../core/action-kinds';
import {
  projectTaskQueue, scheduleId, startAutomationRun, startAutomationWorkflow, workflowInput, type AutomationRunDeps, type Trigger,
} from '../../core/automation-runs';
import { RetryPlanError, planRetry, validateDag, type RetryMode } from '../../core/dag';
import { isTerminal } from '../../core/run-status';
import { referencedSteps } from '../../core/templates';
import { cancelRunAndWait } from '../../core/cancel';
import { AutomationStore, type AutomationDefinition, type AutomationRow, type RunStepRow } from '../../db/automation-store';
import type { RunRow } from '../../db/entities';
import { rows, one } from '../../db/sql';
import type { AuthContext } from '../auth';
import type { ApiDeps } from '../deps';
import { HttpError, ValidationError, conflict, notFound, type FieldIssue } from '../errors';

export interface AutomationBody {
  name: string;
  description?: string | null;
  concurrencyKey?: string | null;
  steps: { key: string; name?: string; kind: string; definition?: Record<string, unknown> | null; dependsOn?: string[] }[];
  schedule?: { cron: string; timezone?: string } | null;
  paused?: boolean;
}

/** Automations (versioned DAG definitions) and the write side of automation runs. */
export class AutomationService {
  readonly automations: AutomationStore;
  private readonly runDeps: AutomationRunDeps;

  constructor(private readonly deps: ApiDeps) {
    this.automations = new AutomationStore(deps.knex);
    this.runDeps = {
      store: deps.store, automations: this.automations, client: deps.temporal,
      defaultTaskQueue: deps.config.taskQueue, heartbeatTimeoutSecs: deps.config.activityHeartbeatTimeoutSecs,
    };
  }

  async get(auth: AuthContext, id: string): Promise<AutomationRow> {
    const automation = await this.automations.get(id);
    if (!automation || automation.organizationId !== auth.organizationId) throw notFound('automation');
    return automation;
  }

  /** Validates a whole definition; every issue names its step (`body.steps.<i>.<field>`). */
  normalize(body: AutomationBody): AutomationDefinition {
    const issues: FieldIssue[] = [];
    const steps = body.steps.map((s, i) => {
      const definition = s.definition ?? {};
      if (!(ACTION_KINDS as readonly string[]).includes(s.kind)) {
        issues.push({ loc: ['body', 'steps', i, 'kind'], msg: `unknown action kind "${s.kind}"`, type: 'enum' });
      } else if (referencedSteps(definition).length === 0 || !JSON.stringify(definition).includes('{{')) {
        // Definitions with templates are validated once their references resolve, when the step runs.
        const parsed = parseDefinition(s.kind, definition);
        if (!parsed.ok) issues.push(...parsed.issues.map((x) => ({ ...x, loc: ['body', 'steps', i, ...x.loc] })));
      }
      const dependsOn = s.dependsOn ?? [];
      for (const ref of referencedSteps(definition)) {
        if (!dependsOn.includes(ref) && !body.steps.some((o) => o.key === ref && o.key !== s.key)) {
          issues.push({ loc: ['body', 'steps', i, 'definition'], msg: `references unknown step "${ref}"`, type: 'value_error' });
        }
      }
      return { key: s.key, name: s.name ?? s.key, kind: s.kind, definition, dependsOn };
    });
    for (const issue of validateDag(steps)) {
      issues.push({ loc: ['body', 'steps', issue.index, issue.field], msg: issue.message, type: 'value_error' });
    }
    if (body.schedule) {
      const fields = body.schedule.cron.trim().split(/\s+/);
      if (fields.length !== 5) issues.push({ loc: ['body', 'schedule', 'cron'], msg: 'cron needs 5 fields (minute hour day month weekday)', type: 'value_error' });
      try {
        new Intl.DateTimeFormat('en', { timeZone: body.schedule.timezone ?? 'UTC' });
      } catch {
        issues.push({ loc: ['body', 'schedule', 'timezone'], msg: `unknown time zone "${body.schedule.timezone}"`, type: 'value_error' });
      }
    }
    if (issues.length) throw new ValidationError(issues);
    return {
      name: body.name,
      description: body.description ?? null,
      concurrencyKey: body.concurrencyKey ?? null,
      steps,
      schedule: body.schedule ? { cron: body.schedule.cron.trim(), timezone: body.schedule.timezone ?? 'UTC' } : null,
    };
  }

  async create(auth: AuthContext, body: AutomationBody) {
    const def = this.normalize(body);
    const saved = await this.automations.saveVersion(auth, def, undefined, body.paused ?? false);
    await this.syncSchedule(saved.automation, def);
    return saved;
  }

  /** Every save is a new immutable version; `paused` alone changes no version. */
  async update(auth: AuthContext, id: string, patch: Partial<AutomationBody>) {
    const automation = await this.get(auth, id);
    const current = (await this.automations.version(automation.currentVersionId))!;
    const onlyPause = Object.keys(patch).every((k) => k === 'paused');
    if (onlyPause && patch.paused !== undefined) {
      const updated = await this.automations.setPaused(id, patch.paused);
      await this.syncSchedule(updated, current.definition);
      return { automation: updated, version: current };
    }
    const merged: AutomationBody = {
      name: patch.name ?? current.definition.name,
      description: patch.description !== undefined ? patch.description : current.definition.description,
      concurrencyKey: patch.concurrencyKey !== undefined ? patch.concurrencyKey : current.definition.concurrencyKey,
      steps: patch.steps ?? current.definition.steps,
      schedule: patch.schedule !== undefined ? patch.schedule : current.definition.schedule,
    };
    const def = this.normalize(merged);
    const saved = await this.automations.saveVersion(auth, def, id, patch.paused);
    await this.syncSchedule(saved.automation, def);
    return saved;
  }

  async delete(auth: AuthContext, id: string): Promise<void> {
    await this.get(auth, id);
    await this.deps.temporal.schedule.getHandle(scheduleId(id)).delete().catch((err) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
    await this.automations.delete(id);
  }

  /** Keeps the automation's Temporal Schedule in step with its definition and paused flag. */
  private async syncSchedule(automation: AutomationRow, def: AutomationDefinition): Promise<void> {
    const id = scheduleId(automation.id);
    const handle = this.deps.temporal.schedule.getHandle(id);
    if (!def.schedule) {
      await handle.delete().catch((err) => { if (!(err instanceof ScheduleNotFoundError)) throw err; });
      return;
    }
    const taskQueue = await projectTaskQueue(this.deps.knex, automation.projectId, this.deps.config.taskQueue);
    const spec = { cronExpressions: [def.schedule.cron], timezone: def.schedule.timezone };
    const action = {
      type: 'startWorkflow' as const, workflowType: 'automationScheduleWorkflow', taskQueue, args: [{ automationId: automation.id }],
    };
    try {
      await handle.update((prev) => ({ ...prev, spec, action, state: { ...prev.state, paused: automation.paused } }));
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      await this.deps.temporal.schedule.create({
        scheduleId: id, spec, action, policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL }, state: { paused: automation.paused },
      });
    }
  }

  async startRun(auth: AuthContext, id: string, input: unknown): Promise<RunRow> {
    const automation = await this.get(auth, id);
    const trigger: Trigger = auth.via === 'cookie'
      ? { triggerType: 'manual', triggerSourceType: 'user', triggerSourceId: auth.userId, createdBy: auth.userId }
      : { triggerType: 'api', triggerSourceType: 'api_key', triggerSourceId: auth.keyId, createdBy: auth.userId };
    const run = await startAutomationRun(this.runDeps, automation, input, trigger);
    this.deps.metrics.runsStarted.inc({ kind: 'automation' });
    return run;
  }

  // --- automation runs ---

  async getRun(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.deps.store.get(runId);
    if (!run || run.organizationId !== auth.organizationId || run.kind !== 'automation') throw notFound();
    return run;
  }

  async listRuns(auth: AuthContext, f: { status?: string; limit: number; offset: number }) {
    const where = ['organization_id = ?', "kind = 'automation'"];
    const vals: unknown[] = [auth.organizationId];
    if (f.status) { where.push('status = ?'); vals.push(f.status); }
    const clause = where.join(' and ');
    const [items, count] = await Promise.all([
      rows<RunRow>(this.deps.knex, `select * from runs where ${clause} order by created_at desc, id desc limit ? offset ?`, [...vals, f.limit, f.offset]),
      one<{ n: string }>(this.deps.knex, `select count(*) as n from runs where ${clause}`, vals),
    ]);
    return { items, total: Number(count?.n ?? 0) };
  }

  steps(runId: string): Promise<RunStepRow[]> {
    return this.automations.steps(runId);
  }

  /** Cancels the run and its running steps (their action runs and anything they started). */
  async cancel(auth: AuthContext, runId: string): Promise<RunRow> {
    const run = await this.getRun(auth, runId);
    if (isTerminal('automation', run.status)) throw conflict(`cannot cancel run in status ${run.status}`);
    await cancelRunAndWait({ store: this.deps.store, client: this.deps.temporal }, run, 'automation run cancelled');
    return this.getRun(auth, runId);
  }

  /** Retry in place: the plan of SEMANTICS §4, or only the plan with dryRun. */
  async retry(auth: AuthContext, runId: string, mode: RetryMode, stepKey: string | undefined, dryRun: boolean) {
    const run = await this.getRun(auth, runId);
    if (mode === 'from_step' && !stepKey) throw new ValidationError([{ loc: ['body', 'stepKey'], msg: 'stepKey is required with mode from_step', type: 'missing' }]);
    if (mode !== 'from_step' && stepKey !== undefined && stepKey !== null) {
      throw new ValidationError([{ loc: ['body', 'stepKey'], msg: `stepKey is only allowed with mode from_step`, type: 'extra_forbidden' }]);
    }
    const steps = await this.automations.steps(run.id);
    if (mode === 'from_step' && !steps.some((s) => s.key === stepKey)) {
      throw new ValidationError([{ loc: ['body', 'stepKey'], msg: `unknown step "${stepKey}"`, type: 'value_error' }]);
    }
    if (!isTerminal('automation', run.status)) throw conflict(`cannot retry run in status ${run.status}`);
    let plan: { rerun: string[]; reuse: string[] };
    try {
      plan = planRetry(steps, mode, stepKey);
    } catch (err) {
      if (err instanceof RetryPlanError) throw err.kind === 'conflict' ? conflict(err.message) : new ValidationError([{ loc: ['body', 'stepKey'], msg: err.message, type: 'value_error' }]);
      throw err;
    }
    if (dryRun) return { run, plan };
    const version = await this.automations.version(run.targetVersionId!);
    if (!version) throw new HttpError(409, 'the pinned automation version no longer exists');
    const reuse = Object.fromEntries(steps.filter((s) => plan.reuse.includes(s.key)).map((s) => [s.key, {
      result: s.result ?? null, actionRunId: s.actionRunId, branch: s.kind === 'conditional_branch' ? ((s.result as { branch?: string } | null)?.branch ?? null) : null,
    }]));
    const updated = await this.deps.store.knex.transaction(async (trx) => {
      const moved = await this.deps.store.transition({
        runId: run.id, kind: 'automation', to: 'pending', verb: 'retry',
        patch: { retryCountIncrement: true, error: null, result: null }, eventData: { mode, stepKey: stepKey ?? null, rerun: plan.rerun },
      }, trx);
      await this.automations.resetSteps(run.id, plan.rerun, trx);
      const taskQueue = await projectTaskQueue(trx, run.projectId, this.deps.config.taskQueue);
      await startAutomationWorkflow(this.deps.temporal, moved, workflowInput(this.runDeps, moved, version, taskQueue, reuse));
      return moved;
    });
    this.deps.metrics.runsStarted.inc({ kind: 'automation' });
    return { run: updated, plan };
  }
}
