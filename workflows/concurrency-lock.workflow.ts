import {
  condition, continueAsNew, getExternalWorkflowHandle, setHandler, workflowInfo,
} from '@temporalio/workflow';
import { acquireSlotSignal, releaseSlotSignal, slotGrantedSignal } from './messages';

export interface LockState {
  key: string;
  holder: string | null;
  waiters: string[];
}

const IDLE_CLOSE = '1 minute';

/**
 * One per concurrency key: holds at most one run, hands the slot to waiters first in, first out,
 * and closes itself when idle. A run that withdraws (pause, cancel) is removed from the queue.
 */
export async function concurrencyLockWorkflow(state: LockState): Promise<void> {
  let { holder } = state;
  const waiters = [...state.waiters];
  setHandler(acquireSlotSignal, ({ runId }) => {
    if (holder !== runId && !waiters.includes(runId)) waiters.push(runId);
  });
  setHandler(releaseSlotSignal, ({ runId }) => {
    if (holder === runId) holder = null;
    const i = waiters.indexOf(runId);
    if (i >= 0) waiters.splice(i, 1);
  });

  for (;;) {
    const busy = await condition(() => holder === null && waiters.length > 0, IDLE_CLOSE);
    if (busy) {
      const next = waiters.shift()!;
      holder = next;
      try {
        await getExternalWorkflowHandle(next).signal(slotGrantedSignal, { key: state.key });
      } catch {
        holder = null; // the run is gone; give the slot to the next one
      }
    } else if (holder === null && waiters.length === 0) {
      return;
    }
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 5000) {
      await condition(() => true);
      await continueAsNew<typeof concurrencyLockWorkflow>({ key: state.key, holder, waiters });
    }
  }
}
