import { getExternalWorkflowHandle, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { lockWorkflowId, releaseSlotSignal, slotGrantedSignal } from './messages';

const acts = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds' });

/**
 * A run's side of concurrency by key. With no key the slot is granted at once. With a key, the
 * request goes to the key's lock workflow (started on demand) and the grant comes back as a signal.
 */
export function useConcurrencySlot(
  organizationId: string, key: string | null, runId: string, opts: { lockId?: string; priority?: number; limit?: number } = {},
) {
  const lockId = key ? (opts.lockId ?? lockWorkflowId(organizationId, key)) : null;
  const slot = {
    granted: !key,
    requested: false,
    async request() {
      if (!lockId || slot.granted || slot.requested) return;
      slot.requested = true;
      await acts.requestConcurrencySlot({ lockId, key: key!, runId, ...(opts.priority !== undefined && { priority: opts.priority }), ...(opts.limit !== undefined && { limit: opts.limit }) });
    },
    async release() {
      if (!lockId || !slot.requested) return;
      slot.requested = false;
      slot.granted = false;
      await getExternalWorkflowHandle(lockId).signal(releaseSlotSignal, { runId }).catch(() => undefined);
    },
  };
  setHandler(slotGrantedSignal, ({ key: grantedKey }) => {
    if (slot.requested && grantedKey === key) slot.granted = true;
  });
  return slot;
}
