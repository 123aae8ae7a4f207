import {
  ActivityFailure, CancellationScope, TimeoutFailure, condition, getExternalWorkflowHandle, isCancellation,
  patched, proxyActivities, proxyLocalActivities, setHandler, sleep, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RunPatch } from '../db/run-store';
import type { JobRow } from '../db/job-store';
import { useConcurrencySlots } from './concurrency';
import {
  awaitChildUpdate, childFinishedSignal, completeJobUpdate, debugModeSignal, jobSlotsWorkflowId, pauseJobUpdate,
  rescheduleJobUpdate, restartJobUpdate, resumeJobUpdate, statusQuery, type JobCompletion,
} from './messages';
import { STATUS_KEY } from './search-attributes';

/** The job's policy, copied into the run's input when it is triggered. */
export type JobConfig = Pick<JobRow, 'endpointUrl' | 'maxAttempts' | 'timeoutSecs' | 'retryStrategy' | 'retryInitialDelaySecs' | 'retryMaxDelaySecs' | 'maxConcurrency'>;

export interface JobRunInput {
  runId: string;
  jobId: string;
  organizationId: string;
  job: JobConfig;
  /** Where the run starts: delayed (future scheduled_at), waiting (dependencies), or queued. */
  initialStatus: 'delayed' | 'waiting' | 'queued';
  scheduledAt: string | null;
  expiresAt: string | null;
  concurrencyKey: string | null;
  priority: number;
  /** The attempt the run starts at (1, or the same attempt after a dlq-replay of a fresh execution). */
  attempt: number;
  hasDependencies: boolean;
  debugMode: boolean;
  heartbeatTimeoutSecs: number;
  parentRunId: string | null;
}

// Status writes and checks are short database calls: local activities skip the server round trips.
const acts = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '10 seconds', nonRetryableErrorTypes: ['IllegalTransition', 'RunNotFound'] },
});

const TERMINAL = ['completed', 'failed', 'timed_out', 'crashed', 'system_failed', 'canceled', 'expired', 'dead_letter'];
const DEPENDENCY_POLL = '2 seconds';

/** Backoff before attempt `attempt + 1`: exponential (doubling), linear or fixed, capped, ±20 % jitter. */
export function backoffMs(job: JobConfig, attempt: number, random: number): number {
  const base = job.retryStrategy === 'fixed' ? job.retryInitialDelaySecs
    : job.retryStrategy === 'linear' ? job.retryInitialDelaySecs * attempt
      : job.retryInitialDelaySecs * 2 ** (attempt - 1);
  const capped = Math.min(base, job.retryMaxDelaySecs);
  return Math.max(0, Math.round(capped * 1000 * (0.8 + 0.4 * random)));
}

/**
 * One job run and its whole status machine (SEMANTICS §7): delay, dependencies, expiry, concurrency
 * slots by priority, dispatch to the job's endpoint, async completion through the callback API,
 * retries with backoff, dead-lettering, time-outs, pause, resume, restart and cancellation.
 */
/** Patch: a restart of a paused run answers once the run is queued again, and works on a run paused while queued. */
const RESTART_ANSWERS_ONCE_QUEUED = 'restart-answers-once-queued';

export async function jobRunWorkflow(input: JobRunInput): Promise<string> {
  const { runId, job } = input;
  let status: string = input.initialStatus;
  let attempt = input.attempt;
  let scheduledAt = input.scheduledAt ? Date.parse(input.scheduledAt) : null;
  const expiresAt = input.expiresAt ? Date.parse(input.expiresAt) : null;
  let debugMode = input.debugMode;
  let completion: JobCompletion | null = null;
  let pauseRequested = false;
  let resumeRequested = false;
  let restart: { machinePreset: string | null } | null = null;
  let machinePreset: string | null = null;
  let rescheduled = false;
  const awaitedChildren = new Set<string>();
  let persisted = status;
  let seq = 0;
  const dedupeKey = () => `${workflowInfo().runId}:${seq++}`;

  const move = async (to: string, extra: { patch?: RunPatch; message?: string; data?: Record<string, unknown> } = {}) => {
    status = to;
    upsertSearchAttributes([{ key: STATUS_KEY, value: to }]);
    await acts.transitionRun({
      runId, kind: 'job', to, dedupeKey: dedupeKey(), patch: extra.patch,
      log: extra.message ? { message: extra.message, data: extra.data } : undefined,
      eventData: { attempt, ...extra.data },
    });
    persisted = to;
  };

  setHandler(statusQuery, () => status);
  setHandler(debugModeSignal, ({ debugMode: on }) => { debugMode = on; });
  setHandler(childFinishedSignal, ({ childRunId }) => { awaitedChildren.delete(childRunId); });
  setHandler(completeJobUpdate, async (c) => {
    completion = c;
    await condition(() => persisted === status && status !== 'executing' && status !== 'waiting');
  }, {
    validator: (c) => {
      if (status !== 'executing' && status !== 'waiting') throw new Error(`cannot complete run in status ${status}`);
      if (c.attempt !== attempt) throw new Error(`stale attempt ${c.attempt}: the run is at attempt ${attempt}`);
    },
  });
  setHandler(pauseJobUpdate, async () => {
    pauseRequested = true;
    await condition(() => persisted === status && (status === 'paused' || TERMINAL.includes(status)));
  }, { validator: () => { if (!['executing', 'queued'].includes(status)) throw new Error(`cannot pause run in status ${status}`); } });
  setHandler(resumeJobUpdate, async () => {
    resumeRequested = true;
    await condition(() => persisted === status && status !== 'paused');
  }, { validator: () => { if (status !== 'paused') throw new Error(`cannot resume run in status ${status}`); } });
  setHandler(restartJobUpdate, async (r) => {
    restart = r;
    await condition(() => restart === null && persisted === status);
  }, { validator: (_r) => { if (!['executing', 'paused'].includes(status)) throw new Error(`cannot restart run in status ${status}`); } });
  setHandler(rescheduleJobUpdate, async ({ scheduledAt: at }) => {
    scheduledAt = Date.parse(at);
    rescheduled = true;
    await condition(() => !rescheduled && persisted === status);
  }, { validator: (_r) => { if (!['delayed', 'queued'].includes(status)) throw new Error(`cannot reschedule run in status ${status}`); } });
  setHandler(awaitChildUpdate, async ({ childRunId }) => {
    awaitedChildren.add(childRunId);
    await condition(() => persisted === status);
  }, { validator: (_r) => { if (status !== 'executing') throw new Error(`cannot wait for a child in status ${status}`); } });

  const untilExpiry = () => (expiresAt === null ? undefined : Math.max(0, expiresAt - Date.now()));
  const expired = () => expiresAt !== null && Date.now() >= expiresAt;

  const [jobSlot, keySlot] = useConcurrencySlots(runId, [
    { organizationId: input.organizationId, key: job.maxConcurrency ? input.jobId : null, lockId: jobSlotsWorkflowId(input.jobId), priority: input.priority, limit: job.maxConcurrency ?? 1 },
    { organizationId: input.organizationId, key: input.concurrencyKey, priority: input.priority },
  ]);
  const releaseSlots = async () => {
    await keySlot.release();
    await jobSlot.release();
  };

  try {
    // Delayed until scheduled_at (reschedule may move it); expiry applies.
    for (;;) {
      if (status === 'delayed') {
        const waitMs = Math.max(0, (scheduledAt ?? 0) - Date.now());
        const limit = untilExpiry();
        const woke = await condition(() => rescheduled, limit === undefined ? waitMs : Math.min(waitMs, limit));
        if (woke) {
          rescheduled = false;
          if ((scheduledAt ?? 0) <= Date.now()) await move(input.hasDependencies ? 'waiting' : 'queued', { message: 'rescheduled to now' });
          else await move('delayed', { patch: {}, message: 'rescheduled', data: { scheduled_at: new Date(scheduledAt!).toISOString() } });
          continue;
        }
        if (expired()) return await finish('expired', { message: 'expired before it started' });
        await move(input.hasDependencies ? 'waiting' : 'queued');
        continue;
      }
      if (status === 'waiting' && input.hasDependencies) {
        const dep = await acts.checkJobDependencies({ runId });
        if (dep === 'unsatisfiable') return await finish('canceled', { patch: { error: 'dependency not satisfied' }, message: 'a dependency finished without meeting its condition' });
        if (dep === 'satisfied') {
          await move('queued', { message: 'dependencies satisfied' });
          continue;
        }
        if (expired()) return await finish('expired', { message: 'expired waiting for dependencies' });
        await sleep(DEPENDENCY_POLL);
        continue;
      }
      break;
    }

    // Attempts: queued → dequeued → executing, until an outcome.
    for (;;) {
      // Queued: take the slots, honouring pause, reschedule and expiry.
      await jobSlot.request();
      await keySlot.request();
      for (;;) {
        const limit = untilExpiry();
        const ready = () => (jobSlot.granted && keySlot.granted) || pauseRequested || rescheduled;
        const woke = limit === undefined ? (await condition(ready), true) : await condition(ready, limit);
        if (!woke && expired()) return await finish('expired', { message: 'expired in the queue' });
        if (rescheduled) {
          rescheduled = false;
          if ((scheduledAt ?? 0) > Date.now()) {
            await releaseSlots();
            await move('delayed', { message: 'rescheduled', data: { scheduled_at: new Date(scheduledAt!).toISOString() } });
            const waitMs = Math.max(0, scheduledAt! - Date.now());
            await condition(() => rescheduled, waitMs);
            rescheduled = false;
            await move('queued');
            await jobSlot.request();
            await keySlot.request();
          }
          continue;
        }
        if (pauseRequested) {
          await releaseSlots();
          await move('paused', { message: 'paused while queued' });
          // A restart requeues it as resume does (before this patch only resume was awaited: a restart hung).
          const restartable = patched(RESTART_ANSWERS_ONCE_QUEUED);
          await condition(() => resumeRequested || (restartable && restart !== null));
          pauseRequested = resumeRequested = false;
          if (restart) machinePreset = (restart as { machinePreset: string | null }).machinePreset ?? machinePreset;
          await move('queued', { message: restart ? 'restarting' : 'resumed' });
          if (restartable) restart = null;
          await jobSlot.request();
          await keySlot.request();
          continue;
        }
        break;
      }
      await move('dequeued', { patch: { nextRetryAt: null } });

      // Executing: dispatch, then wait for the outcome within the attempt's timeout.
      const outcome = await runAttempt();
      if (outcome.kind === 'completed') return await finish('completed', { patch: { result: outcome.result ?? null, error: null } });
      if (outcome.kind === 'failed') return await finish('failed', { patch: { error: outcome.error } });
      if (outcome.kind === 'paused') {
        await releaseSlots();
        await move('paused', { message: 'paused: the in-flight dispatch was aborted' });
        await condition(() => resumeRequested || restart !== null);
        pauseRequested = resumeRequested = false;
        if (restart) machinePreset = (restart as { machinePreset: string | null }).machinePreset ?? machinePreset;
        // Resume queues the same attempt; restart does too, and re-dispatches it from the start.
        await move('queued', { message: restart ? 'restarting' : 'resumed' });
        // The restart update answers once the run is queued, not once a concurrency slot frees up.
        if (restart && patched(RESTART_ANSWERS_ONCE_QUEUED)) restart = null;
        continue;
      }
      // A retryable failure, a time-out or a lost worker.
      const last = attempt >= job.maxAttempts;
      if (!outcome.retryable || last) {
        if (outcome.kind === 'timeout' && last) return await finish('timed_out', { patch: { error: outcome.error } });
        if (outcome.kind === 'lost' && last) return await finish('crashed', { patch: { error: outcome.error } });
        return await finish('dead_letter', { patch: { error: outcome.error }, message: outcome.retryable ? 'attempts exhausted' : 'not retryable' });
      }
      await releaseSlots();
      const delay = backoffMs(job, attempt, Math.random());
      const nextRetryAt = new Date(Date.now() + delay).toISOString();
      attempt++;
      await move('queued', { patch: { attempt, nextRetryAt, error: outcome.error }, message: `retrying in ${delay} ms`, data: { next_retry_at: nextRetryAt } });
      await sleep(delay);
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        await acts.cancelChildRuns({ runId, reason: 'parent canceled' });
        if (!TERMINAL.includes(status)) await move('canceled', { message: 'canceled' });
        await notifyParent();
      });
      throw err;
    }
    await CancellationScope.nonCancellable(() => finish('system_failed', { patch: { error: (err as Error).message } }));
    return 'system_failed';
  } finally {
    await CancellationScope.nonCancellable(releaseSlots);
  }

  async function finish(to: string, extra: { patch?: RunPatch; message?: string } = {}): Promise<string> {
    await move(to, extra);
    await notifyParent();
    return to;
  }

  async function notifyParent(): Promise<void> {
    if (!input.parentRunId) return;
    await getExternalWorkflowHandle(input.parentRunId).signal(childFinishedSignal, { childRunId: runId, status }).catch(() => undefined);
  }

  type Outcome =
    | { kind: 'completed'; result: unknown }
    | { kind: 'failed'; error: string }
    | { kind: 'paused' }
    | { kind: 'error' | 'timeout' | 'lost'; retryable: boolean; error: string };

  async function runAttempt(): Promise<Outcome> {
    for (;;) {
      restart = null;
      completion = null;
      await move('executing', { patch: { attempt, heartbeatAt: new Date().toISOString() } });
      const deadline = Date.now() + job.timeoutSecs * 1000;
      const scope = new CancellationScope();
      const dispatch = scope.run(() => proxyActivities<Activities>({
        startToCloseTimeout: `${job.timeoutSecs + 30} seconds`,
        heartbeatTimeout: `${input.heartbeatTimeoutSecs} seconds`,
        retry: { maximumAttempts: 1 },
      }).dispatchJob({ runId, jobId: input.jobId, attempt, endpointUrl: job.endpointUrl, timeoutSecs: job.timeoutSecs, machinePreset, debugMode }));
      let dispatched: Awaited<typeof dispatch> | null = null;
      let dispatchError: unknown = null;
      dispatch.then((d) => { dispatched = d; }, (e) => { dispatchError = e; });

      // Wait for: the dispatch to answer, a callback outcome, pause, restart or the timeout.
      const settled = () => dispatched !== null || dispatchError !== null;
      const decided = () => completion !== null || pauseRequested || restart !== null;
      await condition(() => settled() || decided(), Math.max(0, deadline - Date.now()));
      if (!settled() && !decided()) {
        scope.cancel();
        return { kind: 'timeout', retryable: true, error: `attempt ${attempt} timed out after ${job.timeoutSecs} s` };
      }
      if (restart !== null || pauseRequested) {
        scope.cancel();
        await dispatch.catch(() => undefined);
        if (restart !== null) {
          machinePreset = (restart as { machinePreset: string | null }).machinePreset ?? machinePreset;
          if (status === 'paused') pauseRequested = false;
          await acts.appendRunLogs({ runId, logs: [{ event: 'restart', message: `restarting attempt ${attempt}${machinePreset ? ` on ${machinePreset}` : ''}` }] });
          continue;
        }
        return { kind: 'paused' };
      }
      if (dispatchError !== null) {
        const e = dispatchError as unknown;
        if (e instanceof ActivityFailure && e.cause instanceof TimeoutFailure) {
          return { kind: 'lost', retryable: true, error: `worker lost during attempt ${attempt}` };
        }
        return { kind: 'error', retryable: true, error: (e as Error).message };
      }
      const d = dispatched as Awaited<typeof dispatch> | null;
      if (d && d.outcome === 'accepted' && completion === null) {
        // 202: the endpoint finishes later through the callback API, or by a spawned child it waits for.
        await condition(() => completion !== null || pauseRequested || restart !== null || awaitedChildren.size > 0, Math.max(0, deadline - Date.now()));
        while (awaitedChildren.size > 0 && completion === null) {
          await move('waiting', { message: 'waiting for child runs' });
          await condition(() => awaitedChildren.size === 0 || completion !== null);
          await move('executing', { message: 'child runs finished' });
          await condition(() => completion !== null || pauseRequested || restart !== null || awaitedChildren.size > 0, Math.max(0, deadline - Date.now()));
        }
        if (restart !== null) continue;
        if (pauseRequested && completion === null) return { kind: 'paused' };
        if (completion === null) return { kind: 'timeout', retryable: true, error: `attempt ${attempt} timed out after ${job.timeoutSecs} s waiting for completion` };
      }
      const c = completion as JobCompletion | null;
      if (c) return c.outcome === 'completed' ? { kind: 'completed', result: c.result } : { kind: 'failed', error: c.error ?? 'failed' };
      if (!d) return { kind: 'error', retryable: true, error: 'no dispatch result' };
      if (d.outcome === 'completed') return { kind: 'completed', result: d.result };
      return { kind: d.outcome === 'timeout' ? 'timeout' : 'error', retryable: d.retryable, error: d.error ?? 'dispatch failed' };
    }
  }
}
