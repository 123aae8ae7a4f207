import type { Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import type { Knex } from '@mikro-orm/knex';
import type { RunRow } from '../db/entities';
import type { AutomationRow, AutomationStore, AutomationVersionRow } from '../db/automation-store';
import type { RunStore } from '../db/run-store';
import { one } from '../db/sql';
import type { AutomationRunInput, ReusedStep } from '../workflows/automation-run.workflow';
import { runSearchAttributes } from '../workflows/search-attributes';
import { newId } from './ids';
import { startRunWorkflow } from './temporal';

/** What starting automation runs needs, from the API and from activities alike. */
export interface AutomationRunDeps {
  store: RunStore;
  automations: AutomationStore;
  client: Client;
  defaultTaskQueue: string;
  heartbeatTimeoutSecs: number;
}

export interface Trigger {
  triggerType: 'manual' | 'api' | 'schedule' | 'automation';
  triggerSourceType: 'user' | 'api_key' | 'schedule' | 'action_run';
  triggerSourceId: string | null;
  createdBy: string | null;
  parent?: RunRow | null;
}

export async function projectTaskQueue(knex: Knex | Knex.Transaction, projectId: string, fallback: string): Promise<string> {
  return (await one<{ taskQueue: string | null }>(knex, 'select task_queue from projects where id = ?', [projectId]))?.taskQueue ?? fallback;
}

/** Creates the run row (pending, pinned to the current version) and its step rows, in `trx`. */
export async function createAutomationRun(
  deps: AutomationRunDeps, trx: Knex.Transaction, automation: AutomationRow, version: AutomationVersionRow, input: unknown, trigger: Trigger,
): Promise<{ run: RunRow; workflowInput: AutomationRunInput }> {
  const id = newId();
  const def = version.definition;
  const { run } = await deps.store.insert({
    id,
    kind: 'automation',
    targetId: automation.id,
    targetVersionId: version.id,
    targetVersion: version.versionNumber,
    organizationId: automation.organizationId,
    projectId: automation.projectId,
    createdBy: trigger.createdBy,
    status: 'pending',
    input: input ?? null,
    concurrencyKey: def.concurrencyKey,
    parentId: trigger.parent?.id ?? null,
    rootId: trigger.parent?.rootId ?? id,
    depth: trigger.parent ? trigger.parent.depth + 1 : 0,
    triggerType: trigger.triggerType,
    triggerMethod: trigger.triggerType,
    triggerSourceType: trigger.triggerSourceType,
    triggerSourceId: trigger.triggerSourceId,
  }, trx);
  await deps.automations.insertSteps(run.id, def.steps, trx);
  const taskQueue = await projectTaskQueue(trx, automation.projectId, deps.defaultTaskQueue);
  return { run, workflowInput: workflowInput(deps, run, version, taskQueue, {}) };
}

export function workflowInput(
  deps: Pick<AutomationRunDeps, 'heartbeatTimeoutSecs'>, run: RunRow, version: AutomationVersionRow, taskQueue: string, reuse: Record<string, ReusedStep>,
): AutomationRunInput {
  return {
    runId: run.id,
    organizationId: run.organizationId,
    taskQueue,
    concurrencyKey: run.concurrencyKey,
    input: run.input ?? null,
    steps: version.definition.steps,
    reuse,
    heartbeatTimeoutSecs: deps.heartbeatTimeoutSecs,
  };
}

export async function startAutomationWorkflow(client: Client, run: RunRow, input: AutomationRunInput): Promise<void> {
  await startRunWorkflow(client, 'automationRunWorkflow', {
    workflowId: run.id,
    taskQueue: input.taskQueue,
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: runSearchAttributes('automation', run.organizationId, run.projectId, 'pending'),
    staticSummary: `automation run · version ${run.targetVersion}`,
  });
}

/** Creates and starts a run of the automation's current version: both happen or neither. */
export async function startAutomationRun(deps: AutomationRunDeps, automation: AutomationRow, input: unknown, trigger: Trigger): Promise<RunRow> {
  return deps.store.knex.transaction(async (trx) => {
    const version = (await deps.automations.version(automation.currentVersionId, trx))!;
    const { run, workflowInput: wfInput } = await createAutomationRun(deps, trx, automation, version, input, trigger);
    await startAutomationWorkflow(deps.client, run, wfInput);
    return run;
  });
}

export const scheduleId = (automationId: string) => `tideway-automation:${automationId}`;
