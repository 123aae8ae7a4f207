import {
  condition, continueAsNew, getExternalWorkflowHandle, setHandler, workflowInfo,
} from '@temporalio/workflow';
import { acquireSlotSignal, releaseSlotSignal, slotGrantedSignal } from './messages';

interface Waiter {
  runId: string;
  priority: number;
  seq: number;
}

export interface LockState {
  key: string;
  /** Runs holding a slot (older executions carried a single `holder`). */
  holders?: string[];
  holder?: string | null;
  waiters: (string | Waiter)[];
  /** How many runs may hold a slot at once (1 for a concurrency key, max_concurrency for a job). */
  limit?: number;
}

const IDLE_CLOSE = '1 minute';

/**
 * One per concurrency key (or job): hands out `limit` slots, highest priority first and first in,
 * first out within a priority, and closes itself when idle. A run that withdraws (pause, cancel)
 * leaves the queue; a run that is gone gives its slot to the next one.
 */
export async function concurrencyLockWorkflow(state: LockState): Promise<void> {
  let limit = Math.max(1, state.limit ?? 1);
  const holders = new Set<string>(state.holders ?? (state.holder ? [state.holder] : []));
  let seq = 0;
  const waiters: Waiter[] = state.waiters.map((w) => (typeof w === 'string' ? { runId: w, priority: 0, seq: seq++ } : { ...w, seq: seq++ }));
  setHandler(acquireSlotSignal, ({ runId, priority, limit: newLimit }) => {
    if (newLimit) limit = Math.max(1, newLimit);
    if (!holders.has(runId) && !waiters.some((w) => w.runId === runId)) waiters.push({ runId, priority: priority ?? 0, seq: seq++ });
  });
  setHandler(releaseSlotSignal, ({ runId }) => {
    holders.delete(runId);
    const i = waiters.findIndex((w) => w.runId === runId);
    if (i >= 0) waiters.splice(i, 1);
  });

  for (;;) {
    const busy = await condition(() => holders.size < limit && waiters.length > 0, IDLE_CLOSE);
    if (busy) {
      waiters.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      const next = waiters.shift()!;
      holders.add(next.runId);
      try {
        await getExternalWorkflowHandle(next.runId).signal(slotGrantedSignal, { key: state.key });
      } catch {
        holders.delete(next.runId); // the run is gone; give the slot to the next one
      }
    } else if (holders.size === 0 && waiters.length === 0) {
      return;
    }
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 5000) {
      await condition(() => true);
      await continueAsNew<typeof concurrencyLockWorkflow>({ key: state.key, holders: [...holders], waiters, limit });
    }
  }
}
