import { getExternalWorkflowHandle, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { lockWorkflowId, releaseSlotSignal, slotGrantedSignal } from './messages';

const acts = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds' });

export interface SlotSpec {
  organizationId: string;
  /** No key: no limit, the slot is granted at once. */
  key: string | null;
  lockId?: string;
  priority?: number;
  limit?: number;
}

export interface Slot {
  granted: boolean;
  requested: boolean;
  request(): Promise<void>;
  release(): Promise<void>;
}

/**
 * A run's side of concurrency limits. Each keyed slot is requested from its lock workflow (started
 * on demand), and the grant comes back as a signal naming the key; one handler serves every slot
 * of the run, so a run may hold several (a job's limit and a concurrency key).
 */
export function useConcurrencySlots(runId: string, specs: SlotSpec[]): Slot[] {
  const slots = specs.map((spec) => {
    const lockId = spec.key ? (spec.lockId ?? lockWorkflowId(spec.organizationId, spec.key)) : null;
    const slot: Slot & { key: string | null } = {
      key: spec.key,
      granted: !spec.key,
      requested: false,
      async request() {
        if (!lockId || slot.granted || slot.requested) return;
        slot.requested = true;
        await acts.requestConcurrencySlot({
          lockId, key: spec.key!, runId,
          ...(spec.priority !== undefined && { priority: spec.priority }), ...(spec.limit !== undefined && { limit: spec.limit }),
        });
      },
      async release() {
        if (!lockId || !slot.requested) return;
        slot.requested = false;
        slot.granted = false;
        await getExternalWorkflowHandle(lockId).signal(releaseSlotSignal, { runId }).catch(() => undefined);
      },
    };
    return slot;
  });
  setHandler(slotGrantedSignal, ({ key }) => {
    for (const slot of slots) if (slot.requested && slot.key === key) slot.granted = true;
  });
  return slots;
}

export function useConcurrencySlot(organizationId: string, key: string | null, runId: string): Slot {
  return useConcurrencySlots(runId, [{ organizationId, key }])[0];
}
