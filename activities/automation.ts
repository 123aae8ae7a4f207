import { ApplicationFailure } from '@temporalio/activity';
import { parseDefinition, planAction, type AvailableKind } from '../core/action-kinds';
import { createAutomationRun, projectTaskQueue, startAutomationRun, workflowInput, type AutomationRunDeps } from '../core/automation-runs';
import { newId } from '../core/ids';
import { TemplateError, resolveTemplates } from '../core/templates';
import type { StepDefinition } from '../db/automation-store';
import { one } from '../db/sql';
import type { RunRow } from '../db/entities';
import type { ActionRunInput } from '../workflows/action-run.workflow';
import type { AutomationRunInput } from '../workflows/automation-run.workflow';

const DECISION_KINDS = ['approval_gate', 'conditional_branch'];

/** Activities of automation runs: steps become action runs, outcomes flow back into step rows. */
export function createAutomationActivities(deps: AutomationRunDeps) {
  const { store, automations } = deps;

  async function failStep(runId: string, key: string, error: { code: string; message: string }, dedupeKey: string) {
    await automations.updateStep(runId, key, { status: 'failed', error }, dedupeKey);
    return { error };
  }

  return {
    /**
     * Resolves a step's templates against upstream results, validates the definition, and creates
     * its action run (queued) under the automation run. Idempotent: a retried call finds the run.
     */
    async prepareStep(input: {
      automationRunId: string; step: StepDefinition; upstream: Record<string, { result: unknown }>; input: unknown;
      heartbeatTimeoutSecs: number; dedupeKey: string;
    }): Promise<{ actionRunId: string; input: ActionRunInput; organizationId: string; projectId: string } | { error: { code: string; message: string } }> {
      const { step } = input;
      const parent = await store.require(input.automationRunId);
      const existing = await one<{ actionRunId: string | null }>(store.knex,
        'select action_run_id from automation_run_steps where run_id = ? and key = ?', [parent.id, step.key]);
      let definition: unknown;
      try {
        definition = resolveTemplates(step.definition, { steps: input.upstream, input: input.input ?? {} });
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        return failStep(parent.id, step.key, { code: 'template_error', message: err.message }, input.dedupeKey);
      }
      const parsed = parseDefinition(step.kind, definition);
      if (!parsed.ok) {
        const message = parsed.issues.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; ');
        return failStep(parent.id, step.key, { code: 'invalid_definition', message }, input.dedupeKey);
      }
      const plan = planAction(step.kind as AvailableKind, parsed.value);
      let actionRunId = existing?.actionRunId ?? null;
      if (!actionRunId) {
        actionRunId = newId();
        await store.insert({
          id: actionRunId,
          kind: 'action',
          executor: step.kind,
          organizationId: parent.organizationId,
          projectId: parent.projectId,
          createdBy: parent.createdBy,
          status: 'queued',
          input: parsed.value,
          maxAttempts: plan.retry.maxAttempts,
          parentId: parent.id,
          rootId: parent.rootId,
          depth: parent.depth + 1,
          triggerMethod: 'automation',
          triggerSourceType: 'automation_run',
          triggerSourceId: parent.id,
        });
        await automations.updateStep(parent.id, step.key, {
          status: 'running', actionRunId, decisionId: DECISION_KINDS.includes(step.kind) ? actionRunId : null,
        }, input.dedupeKey);
      }
      return {
        actionRunId,
        organizationId: parent.organizationId,
        projectId: parent.projectId,
        input: {
          runId: actionRunId,
          organizationId: parent.organizationId,
          executor: step.kind,
          definition: parsed.value,
          plan,
          concurrencyKey: null,
          retryCount: 0,
          heartbeatTimeoutSecs: input.heartbeatTimeoutSecs,
          parent: { workflowId: parent.id, stepKey: step.key },
        },
      };
    },

    /** Copies a finished step's action run outcome into the step row. */
    async finishStep(input: { automationRunId: string; stepKey: string; actionRunId: string; dedupeKey: string }):
      Promise<{ status: string; result: unknown; branch: string | null }> {
      const run = await store.require(input.actionRunId);
      const status = run.status === 'completed' ? 'completed' : run.status === 'cancelled' ? 'cancelled' : 'failed';
      const result = run.result ?? null;
      const branch = run.executor === 'conditional_branch' ? ((result as { branch?: string } | null)?.branch ?? null) : null;
      await automations.updateStep(input.automationRunId, input.stepKey, {
        status, actionRunId: input.actionRunId,
        ...(status === 'completed' ? { result } : { error: run.error ?? { code: run.status, message: `action run ${run.status}` } }),
      }, input.dedupeKey);
      return { status, result, branch };
    },

    /** A step's action run started or stopped waiting for approval. */
    async markStepWaiting(input: { automationRunId: string; stepKey: string; waiting: boolean; dedupeKey: string }): Promise<void> {
      await automations.updateStep(input.automationRunId, input.stepKey, { status: input.waiting ? 'waiting' : 'running' }, input.dedupeKey,
        input.waiting ? 'step.waiting' : 'step.resumed');
    },

    async skipStep(input: { automationRunId: string; stepKey: string; dedupeKey: string; status?: 'skipped' | 'cancelled' }): Promise<void> {
      await automations.updateStep(input.automationRunId, input.stepKey, { status: input.status ?? 'skipped' }, input.dedupeKey);
    },

    /** A schedule fired: start a run of the automation's current version unless it is paused or gone. */
    async startScheduledAutomationRun({ automationId }: { automationId: string }): Promise<string | null> {
      const automation = await automations.get(automationId);
      if (!automation || automation.paused) return null;
      const run = await startAutomationRun(deps, automation, null, {
        triggerType: 'schedule', triggerSourceType: 'schedule', triggerSourceId: automationId, createdBy: automation.createdBy,
      });
      return run.id;
    },

    /** `call_automation`: creates the called automation's run (pending) under the action run. */
    async prepareCalledAutomation({ actionRunId, automationId, input }: { actionRunId: string; automationId: string; input: unknown }):
      Promise<{ automationRunId: string; input: AutomationRunInput; organizationId: string; projectId: string }> {
      const caller = await store.require(actionRunId);
      const automation = await automations.get(automationId);
      if (!automation || automation.organizationId !== caller.organizationId) {
        throw ApplicationFailure.nonRetryable(`automation ${automationId} not found`, 'automation_not_found');
      }
      return store.knex.transaction(async (trx) => {
        // A retried activity finds the run it already created during this execution of the caller.
        const pending = await one<RunRow>(trx,
          `select * from runs where parent_id = ? and kind = 'automation' and status = 'pending' and created_at >= ? limit 1`,
          [actionRunId, caller.startedAt ?? caller.createdAt]);
        const version = (await automations.version(pending?.targetVersionId ?? automation.currentVersionId, trx))!;
        if (pending) {
          const taskQueue = await projectTaskQueue(trx, pending.projectId, deps.defaultTaskQueue);
          return { automationRunId: pending.id, organizationId: pending.organizationId, projectId: pending.projectId, input: workflowInput(deps, pending, version, taskQueue, {}) };
        }
        const { run, workflowInput: wfInput } = await createAutomationRun(deps, trx, automation, version, input, {
          triggerType: 'automation', triggerSourceType: 'action_run', triggerSourceId: actionRunId, createdBy: caller.createdBy, parent: caller,
        });
        return { automationRunId: run.id, organizationId: run.organizationId, projectId: run.projectId, input: wfInput };
      });
    },

    async automationRunOutcome({ automationRunId }: { automationRunId: string }): Promise<{ status: string; result: unknown; error: unknown }> {
      const run = await store.require(automationRunId);
      return { status: run.status, result: run.result ?? null, error: run.error ?? null };
    },
  };
}
