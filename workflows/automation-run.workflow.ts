import {
  CancellationScope, ParentClosePolicy, ChildWorkflowCancellationType, condition, executeChild, isCancellation,
  patched, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes, workflowInfo, type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { StepDefinition } from '../db/automation-store';
import { useConcurrencySlot } from './concurrency';
import { statusQuery, stepWaitingSignal } from './messages';
import { STATUS_KEY, runSearchAttributes } from './search-attributes';

export interface ReusedStep {
  result: unknown;
  actionRunId: string | null;
  branch: string | null;
}

export interface AutomationRunInput {
  runId: string;
  organizationId: string;
  taskQueue: string;
  concurrencyKey: string | null;
  input: unknown;
  steps: StepDefinition[];
  /** Completed steps a retry keeps, with their results. */
  reuse: Record<string, ReusedStep>;
  heartbeatTimeoutSecs: number;
}

type StepState =
  | { status: 'pending' }
  | { status: 'running'; actionRunId?: string }
  | { status: 'completed'; result: unknown; branch: string | null }
  | { status: 'failed' | 'cancelled' | 'skipped' };

const storeRetry: RetryPolicy = { initialInterval: '200 ms', maximumInterval: '10 seconds', nonRetryableErrorTypes: ['IllegalTransition', 'RunNotFound'] };
const remoteActs = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: storeRetry });
/** The run's and its steps' row writes as local activities: no task round trip through the server per write. */
const localActs = proxyLocalActivities<Activities>({ startToCloseTimeout: '30 seconds', localRetryThreshold: '10 seconds', retry: storeRetry });

const TERMINAL = ['completed', 'failed', 'cancelled'];

/**
 * One automation run: waits for its concurrency slot, then runs the DAG, each ready step as a
 * child action-run workflow (independent steps in parallel), passing upstream results down.
 * A failed step skips its downstream steps and fails the run; a false branch skips its dependants.
 */
export async function automationRunWorkflow(input: AutomationRunInput): Promise<unknown> {
  const { runId } = input;
  // Runs started before this change keep writing through remote activities.
  const acts = patched('automation-store-local-activities') ? localActs : remoteActs;
  let status = 'pending';
  let seq = 0;
  const dedupeKey = (what = 'status') => `${workflowInfo().runId}:${what}:${seq++}`;
  const move = async (to: string, extra: { error?: unknown; result?: unknown } = {}) => {
    status = to;
    upsertSearchAttributes([{ key: STATUS_KEY, value: to }]);
    await acts.transitionRun({
      runId, kind: 'automation', to, dedupeKey: dedupeKey(),
      patch: { ...(extra.error !== undefined && { error: extra.error }), ...(extra.result !== undefined && { result: extra.result }) },
    });
  };

  const state = new Map<string, StepState>();
  for (const step of input.steps) {
    const reused = input.reuse[step.key];
    state.set(step.key, reused ? { status: 'completed', result: reused.result, branch: reused.branch } : { status: 'pending' });
  }
  const waiting = new Set<string>();
  const waitingPersisted = new Set<string>();
  let changed = false;
  setHandler(statusQuery, () => status);
  setHandler(stepWaitingSignal, ({ stepKey, waiting: isWaiting }) => {
    if (isWaiting) waiting.add(stepKey);
    else waiting.delete(stepKey);
    changed = true;
  });

  const runStep = async (step: StepDefinition): Promise<void> => {
    state.set(step.key, { status: 'running' });
    const upstream: Record<string, { result: unknown }> = {};
    for (const [key, s] of state) if (s.status === 'completed') upstream[key] = { result: s.result };
    const prepared = await acts.prepareStep({ automationRunId: runId, step, upstream, input: input.input, heartbeatTimeoutSecs: input.heartbeatTimeoutSecs, dedupeKey: dedupeKey(`prepare:${step.key}`) });
    if ('error' in prepared) {
      state.set(step.key, { status: 'failed' });
      return;
    }
    state.set(step.key, { status: 'running', actionRunId: prepared.actionRunId });
    try {
      await executeChild('actionRunWorkflow', {
        workflowId: prepared.actionRunId,
        taskQueue: input.taskQueue,
        args: [prepared.input],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        typedSearchAttributes: runSearchAttributes('action', prepared.organizationId, prepared.projectId, 'queued', step.kind),
      });
    } catch (err) {
      if (!isCancellation(err)) throw err;
    } finally {
      waiting.delete(step.key);
      waitingPersisted.delete(step.key);
    }
    const outcome = await CancellationScope.nonCancellable(() =>
      acts.finishStep({ automationRunId: runId, stepKey: step.key, actionRunId: prepared.actionRunId, dedupeKey: dedupeKey(`finish:${step.key}`) }));
    state.set(step.key, outcome.status === 'completed'
      ? { status: 'completed', result: outcome.result, branch: outcome.branch }
      : { status: outcome.status as 'failed' | 'cancelled' });
  };

  const slot = useConcurrencySlot(input.organizationId, input.concurrencyKey, runId);
  const inFlight = new Map<string, Promise<void>>();
  try {
    await slot.request();
    await condition(() => slot.granted);
    await move('running');

    for (;;) {
      changed = false;
      // Skip what can no longer run: dependants of failed/cancelled/skipped steps and of false branches.
      let progressed = true;
      while (progressed) {
        progressed = false;
        for (const step of input.steps) {
          if (state.get(step.key)!.status !== 'pending') continue;
          const deps = step.dependsOn.map((d) => state.get(d)!);
          const blocked = deps.some((d) => d.status === 'failed' || d.status === 'cancelled' || d.status === 'skipped'
            || (d.status === 'completed' && d.branch === 'false'));
          if (blocked) {
            state.set(step.key, { status: 'skipped' });
            await acts.skipStep({ automationRunId: runId, stepKey: step.key, dedupeKey: dedupeKey(`skip:${step.key}`) });
            progressed = true;
          }
        }
      }
      for (const step of input.steps) {
        if (state.get(step.key)!.status !== 'pending') continue;
        if (step.dependsOn.every((d) => state.get(d)!.status === 'completed')) {
          const p = runStep(step)
            .catch((err) => {
              if (!isCancellation(err)) state.set(step.key, { status: 'failed' });
            })
            .finally(() => {
              inFlight.delete(step.key);
              changed = true;
            });
          inFlight.set(step.key, p);
        }
      }
      if (inFlight.size === 0) break;
      for (const key of new Set([...waiting, ...waitingPersisted])) {
        const isWaiting = waiting.has(key);
        if (isWaiting === waitingPersisted.has(key) || !inFlight.has(key)) continue;
        await acts.markStepWaiting({ automationRunId: runId, stepKey: key, waiting: isWaiting, dedupeKey: dedupeKey(`waiting:${key}`) });
        if (isWaiting) waitingPersisted.add(key);
        else waitingPersisted.delete(key);
      }
      if (waiting.size > 0 && status === 'running') await move('waiting');
      else if (waiting.size === 0 && status === 'waiting') await move('running');
      await condition(() => changed);
    }

    const failed = input.steps.filter((s) => ['failed', 'cancelled'].includes(state.get(s.key)!.status)).map((s) => s.key);
    const results = Object.fromEntries(input.steps.flatMap((s) => {
      const st = state.get(s.key)!;
      return st.status === 'completed' ? [[s.key, st.result]] : [];
    }));
    if (failed.length) {
      await move('failed', { error: { code: 'step_failed', message: `step${failed.length > 1 ? 's' : ''} failed: ${failed.join(', ')}`, steps: failed } });
      return null;
    }
    await move('completed', { result: { steps: results } });
    return { steps: results };
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        await Promise.allSettled(inFlight.values());
        for (const step of input.steps) {
          const s = state.get(step.key)!.status;
          if (s === 'pending') await acts.skipStep({ automationRunId: runId, stepKey: step.key, dedupeKey: dedupeKey(`skip:${step.key}`), status: 'cancelled' });
        }
        if (!TERMINAL.includes(status)) await move('cancelled');
      });
      throw err;
    }
    await CancellationScope.nonCancellable(() => move('failed', { error: { code: 'internal', message: (err as Error).message } }));
    return null;
  } finally {
    await CancellationScope.nonCancellable(() => slot.release());
  }
}
