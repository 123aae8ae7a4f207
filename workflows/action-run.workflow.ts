import {
  ActivityFailure, ApplicationFailure, CancellationScope, ChildWorkflowCancellationType, ParentClosePolicy,
  TimeoutFailure, condition, executeChild, getExternalWorkflowHandle, isCancellation, patched, proxyActivities, proxyLocalActivities, setHandler,
  startChild, upsertSearchAttributes, workflowInfo, type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ActionPlan } from '../core/action-kinds';
import { STATUS_KEY, runSearchAttributes } from './search-attributes';
import { useConcurrencySlot } from './concurrency';
import {
  approveUpdate, pauseUpdate, rejectUpdate, resumeUpdate, statusQuery, stepWaitingSignal, type Decision,
} from './messages';

export interface ActionRunInput {
  runId: string;
  organizationId: string;
  executor: string;
  definition: Record<string, unknown>;
  plan: ActionPlan;
  concurrencyKey: string | null;
  /** retryCount when this execution started: log lines carry attempt = retryCount + 1. */
  retryCount: number;
  heartbeatTimeoutSecs: number;
  /** Set when the run is a step of an automation run, which it tells about approval waits. */
  parent?: { workflowId: string; stepKey: string } | null;
}

export interface RunError {
  code: string;
  message: string;
  [k: string]: unknown;
}

const storeRetry: RetryPolicy = { initialInterval: '200 ms', maximumInterval: '10 seconds', nonRetryableErrorTypes: ['IllegalTransition', 'RunNotFound'] };
const store = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: storeRetry });
/** Status writes as local activities: no task round trip through the server per write. */
const localStore = proxyLocalActivities<Activities>({ startToCloseTimeout: '30 seconds', localRetryThreshold: '10 seconds', retry: storeRetry });
const LOCAL_STATUS_WRITES = 'action-status-local-activities';

const TERMINAL_STATUSES = ['completed', 'failed', 'cancelled', 'rejected'];

/** A worker lost mid-attempt is not the run's fault: re-dispatch this many times before failing. */
const WORKER_LOSS_RETRIES = 3;

/**
 * One action run: queue (concurrency key), optional approval, the executor activity with the
 * kind's retry policy, and the terminal status. Cancellation is Temporal's: it cascades to child
 * runs and always ends the run `cancelled`.
 */
export async function actionRunWorkflow(input: ActionRunInput): Promise<unknown> {
  const { runId, plan } = input;
  let status = 'queued';
  /** The last status written to the run row: handlers return once their effect is persisted. */
  let persisted = 'queued';
  let decision: Decision | null = null;
  let pauseRequested = false;
  let resumeRequested = false;
  let seq = 0;
  const dedupeKey = () => `${workflowInfo().runId}:${seq++}`;
  // Runs started before this change keep writing their status with remote activities.
  const statusStore = patched(LOCAL_STATUS_WRITES) ? localStore : store;

  const move = async (to: string, extra: Omit<Parameters<Activities['transitionRun']>[0], 'runId' | 'kind' | 'to'> = {}) => {
    const previous = status;
    // Handlers see the new status at once: a client that reads it from the row can act on it.
    status = to;
    upsertSearchAttributes([{ key: STATUS_KEY, value: to }]);
    await statusStore.transitionRun({ runId, kind: 'action', to, dedupeKey: dedupeKey(), ...extra });
    persisted = to;
    if (input.parent && (to === 'waiting_approval' || previous === 'waiting_approval')) {
      await getExternalWorkflowHandle(input.parent.workflowId)
        .signal(stepWaitingSignal, { stepKey: input.parent.stepKey, waiting: to === 'waiting_approval' })
        .catch(() => undefined);
    }
  };

  setHandler(statusQuery, () => status);
  setHandler(
    approveUpdate,
    async ({ by }) => {
      decision = { approved: true, by, at: new Date().toISOString() };
      await condition(() => persisted !== 'waiting_approval' && persisted === status);
    },
    { validator: (_args) => requireStatus(status, 'waiting_approval', 'approve') },
  );
  setHandler(
    rejectUpdate,
    async ({ by, reason }) => {
      decision = { approved: false, by, at: new Date().toISOString(), reason: reason ?? null };
      await condition(() => persisted !== 'waiting_approval' && persisted === status);
    },
    { validator: (_args) => requireStatus(status, 'waiting_approval', 'reject') },
  );
  setHandler(
    pauseUpdate,
    async () => {
      pauseRequested = true;
      await condition(() => persisted === status && (status === 'paused' || !['queued', 'running', 'pausing'].includes(status)));
    },
    {
      validator: () => {
        if (status === 'queued') return;
        if (['running', 'waiting_approval'].includes(status) && !plan.pausable) {
          throw new Error(`run is not pausable while ${status}: ${input.executor} has no safe point`);
        }
        requireStatus(status, 'queued', 'pause');
      },
    },
  );
  setHandler(
    resumeUpdate,
    async () => {
      resumeRequested = true;
      await condition(() => persisted === status && status !== 'paused');
    },
    { validator: () => requireStatus(status, 'paused', 'resume') },
  );

  const slot = useConcurrencySlot(input.organizationId, input.concurrencyKey, runId);
  try {
    // Queued: wait for a concurrency slot; a pause here parks the run until it is resumed.
    for (;;) {
      await slot.request();
      await condition(() => slot.granted || pauseRequested);
      if (!pauseRequested) break;
      await slot.release();
      await move('paused', { log: { message: 'paused while queued' } });
      await condition(() => resumeRequested);
      pauseRequested = resumeRequested = false;
      await move('queued', { patch: { interruptCountIncrement: true }, log: { message: 'resumed' } });
    }
    await move('running');

    if (plan.requiresApproval) {
      await move('waiting_approval', { log: { message: 'waiting for approval' } });
      const decided = plan.approvalTimeoutSeconds
        ? await condition(() => decision !== null, plan.approvalTimeoutSeconds * 1000)
        : (await condition(() => decision !== null), true);
      const d = decision as Decision | null;
      if (!decided || !d) {
        const error: RunError = { code: 'approval_timeout', message: `no decision within ${plan.approvalTimeoutSeconds} s` };
        await move('failed', { patch: { error }, log: { level: 'error', message: error.message } });
        return null;
      }
      if (!d.approved) {
        const error: RunError = { code: 'rejected', message: d.reason ? `rejected: ${d.reason}` : 'rejected', rejectedBy: d.by };
        await move('rejected', { patch: { error }, log: { message: `rejected by ${d.by}`, data: { reason: d.reason } } });
        return null;
      }
      if (plan.gate) {
        const result = { approved: true, approvedBy: d.by, approvedAt: d.at };
        await move('completed', { patch: { result }, log: { message: `approved by ${d.by}` } });
        return result;
      }
      await move('running', { log: { message: `approved by ${d.by}` } });
    }

    const result = plan.executor === 'call_automation' ? await callAutomation(input) : await executeWithWorkerLossRetry(input);
    await move('completed', { patch: { result } });
    return result;
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        await store.cancelChildRuns({ runId, reason: 'parent cancelled' });
        // The run may have finished just before the cancellation arrived: it keeps that status.
        if (!TERMINAL_STATUSES.includes(status)) await move('cancelled', { log: { message: 'cancelled' } });
      });
      throw err;
    }
    const error = toRunError(err);
    await move('failed', { patch: { error }, log: { level: 'error', message: `failed: ${error.message}`, data: error } });
    return null;
  } finally {
    await CancellationScope.nonCancellable(() => slot.release());
  }
}

async function executeWithWorkerLossRetry(input: ActionRunInput): Promise<unknown> {
  const { plan } = input;
  const execute = proxyActivities<Activities>({
    startToCloseTimeout: `${plan.attemptTimeoutSeconds + 30} seconds`,
    heartbeatTimeout: `${input.heartbeatTimeoutSecs} seconds`,
    retry: {
      maximumAttempts: plan.retry.maxAttempts,
      initialInterval: `${Math.max(plan.retry.initialIntervalSeconds, 0.001)} seconds`,
      backoffCoefficient: plan.retry.backoffCoefficient,
      maximumInterval: '10 minutes',
    },
  }).executeAction;
  for (let lost = 0; ; lost++) {
    try {
      return await execute({ runId: input.runId, executor: plan.executor, definition: input.definition, baseRetryCount: input.retryCount, maxAttempts: plan.retry.maxAttempts });
    } catch (err) {
      const workerLost = err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && lost < WORKER_LOSS_RETRIES;
      if (!workerLost) throw err;
      await store.appendRunLogs({ runId: input.runId, logs: [{ level: 'warn', event: 'worker_lost', message: 'worker lost during the attempt; dispatching again', dedupeKey: `${workflowInfo().runId}:lost:${lost}` }] });
    }
  }
}

/**
 * `call_automation`: starts an automation run as a child workflow; with `wait` (the default) the
 * action run waits for it and returns its result, else it returns the new run's id at once.
 */
async function callAutomation(input: ActionRunInput): Promise<unknown> {
  const def = input.definition as { automationId: string; input?: unknown; wait?: boolean };
  const wait = def.wait !== false;
  const prepared = await store.prepareCalledAutomation({ actionRunId: input.runId, automationId: def.automationId, input: def.input ?? null });
  const options = {
    workflowId: prepared.automationRunId,
    taskQueue: prepared.input.taskQueue,
    args: [prepared.input] as [typeof prepared.input],
    typedSearchAttributes: runSearchAttributes('automation', prepared.organizationId, prepared.projectId, 'pending'),
  };
  if (!wait) {
    await startChild('automationRunWorkflow', { ...options, parentClosePolicy: ParentClosePolicy.ABANDON });
    return { automationRunId: prepared.automationRunId };
  }
  try {
    await executeChild('automationRunWorkflow', {
      ...options,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
  }
  const outcome = await store.automationRunOutcome({ automationRunId: prepared.automationRunId });
  if (outcome.status !== 'completed') {
    throw ApplicationFailure.nonRetryable(`automation run ${outcome.status}`, 'automation_failed', { automationRunId: prepared.automationRunId, status: outcome.status, error: outcome.error });
  }
  return { automationRunId: prepared.automationRunId, status: outcome.status, result: outcome.result };
}

function requireStatus(status: string, wanted: string, verb: string): void {
  if (status !== wanted) throw new Error(`cannot ${verb} run in status ${status}`);
}

/** The run's `error` object: the executor's own error when it gave one. */
export function toRunError(err: unknown): RunError {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) {
    const detail = cause.details?.[0];
    if (detail && typeof detail === 'object') return { code: cause.type ?? 'error', message: cause.message, ...(detail as object) } as RunError;
    return { code: cause.type ?? 'error', message: cause.message };
  }
  if (cause instanceof TimeoutFailure) return { code: 'timeout', message: `attempt timed out (${cause.timeoutType})` };
  return { code: 'internal', message: err instanceof Error ? err.message : String(err) };
}
