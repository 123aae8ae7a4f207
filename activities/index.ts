import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { IllegalTransitionError } from '../core/run-status';
import { cancelRunTree } from '../core/cancel';
import { RunNotFoundError, type LogInput, type RunStore, type TransitionInput } from '../db/run-store';
import { acquireSlotSignal } from '../workflows/messages';
import { runExecutor, type Http } from './executors';
import { createAutomationActivities } from './automation';
import type { AutomationStore } from '../db/automation-store';
import type { JobStore } from '../db/job-store';
import { createJobActivities } from './job';
import { createHousekeepingActivities } from './housekeeping';
import type { EgressPolicy } from '../core/egress';

export interface ActivityDeps {
  store: RunStore;
  automations: AutomationStore;
  client: Client;
  http: Http;
  workerId: string;
  taskQueue: string;
  heartbeatTimeoutSecs: number;
  jobs: JobStore;
  runTokenSecret: string | undefined;
  retentionDays: number;
  reconcileAfterSecs: number;
  /** Where job dispatches may go (executors get it through `http`); anywhere when absent. */
  egress?: EgressPolicy;
}

/** Activities take their dependencies: tests and production build them the same way. */
export function createActivities(deps: ActivityDeps) {
  const { store, automations, jobs, client, http, workerId, taskQueue, heartbeatTimeoutSecs, runTokenSecret } = deps;
  return {
    ...createHousekeepingActivities({ store, client, retentionDays: deps.retentionDays, reconcileAfterSecs: deps.reconcileAfterSecs }),
    ...createJobActivities({ store, jobs, runTokenSecret, workerId, egress: deps.egress }),
    ...createAutomationActivities({ store, automations, client, defaultTaskQueue: taskQueue, heartbeatTimeoutSecs }),

    /** Persists a status change with its event and log line; idempotent by dedupe key. */
    async transitionRun(input: TransitionInput): Promise<{ status: string }> {
      try {
        const run = await store.transition({ ...input, log: { ...input.log, workerId } });
        return { status: run.status };
      } catch (err) {
        if (err instanceof IllegalTransitionError) throw ApplicationFailure.nonRetryable(err.message, 'IllegalTransition');
        if (err instanceof RunNotFoundError) throw ApplicationFailure.nonRetryable(err.message, 'RunNotFound');
        throw err;
      }
    },

    async appendRunLogs({ runId, logs }: { runId: string; logs: LogInput[] }): Promise<void> {
      await store.appendLogs(runId, logs.map((l) => ({ ...l, workerId: l.workerId ?? workerId })));
    },

    /** One attempt of an action executor; Temporal retries it by the kind's policy. */
    async executeAction(input: {
      runId: string; executor: string; definition: Record<string, unknown>; baseRetryCount: number; maxAttempts: number;
    }): Promise<unknown> {
      const ctx = Context.current();
      const attempt = input.baseRetryCount + ctx.info.attempt;
      if (ctx.info.attempt > 1) await store.patch(input.runId, { retryCountIncrement: true, attempt: ctx.info.attempt });
      else await store.patch(input.runId, { attempt: 1 });
      const log = (l: Omit<LogInput, 'attempt' | 'workerId'>) =>
        store.appendLogs(input.runId, [{ ...l, attempt, workerId }]);
      await log({
        event: 'attempt_started',
        message: `attempt ${ctx.info.attempt}/${input.maxAttempts} of ${input.executor} started`,
        dedupeKey: `${ctx.info.workflowExecution?.runId}:${ctx.info.activityId}:${ctx.info.attempt}:start`,
      });
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        const result = await runExecutor(input.executor, input.definition, { http, signal: ctx.cancellationSignal, log });
        await log({ event: 'attempt_succeeded', message: `attempt ${ctx.info.attempt} succeeded` });
        return result;
      } catch (err) {
        const failure = err instanceof ApplicationFailure ? err : ApplicationFailure.retryable((err as Error).message, 'internal');
        const detail = failure.details?.[0] as Record<string, unknown> | undefined;
        const willRetry = !failure.nonRetryable && ctx.info.attempt < input.maxAttempts;
        await log({
          level: willRetry ? 'warn' : 'error',
          event: 'attempt_failed',
          message: `attempt ${ctx.info.attempt} failed: ${failure.message}${willRetry ? ' (will retry)' : ''}`,
          data: { code: failure.type, ...detail },
        });
        throw failure;
      } finally {
        clearInterval(beat);
      }
    },

    /** Asks the key's lock workflow for a slot, starting it if it is not running. */
    async requestConcurrencySlot({ lockId, key, runId, priority, limit }: { lockId: string; key: string; runId: string; priority?: number; limit?: number }): Promise<void> {
      await client.workflow.signalWithStart('concurrencyLockWorkflow', {
        workflowId: lockId,
        taskQueue,
        args: [{ key, holders: [], waiters: [], limit: limit ?? 1 }],
        signal: acquireSlotSignal,
        signalArgs: [{ runId, ...(priority !== undefined && { priority }), ...(limit !== undefined && { limit }) }],
      });
    },

    async cancelChildRuns({ runId, reason }: { runId: string; reason: string }): Promise<void> {
      await cancelRunTree({ store, client }, runId, reason, { includeRoot: false });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
