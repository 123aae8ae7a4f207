import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * Signals, updates and queries of run workflows, defined once and imported by the workflows and
 * the API. Verbs that need a synchronous yes/no (approve only while waiting) are updates whose
 * validators reject in the wrong state; the API maps a rejection to 409.
 */
export interface Decision {
  approved: boolean;
  by: string;
  at: string;
  reason?: string | null;
}

export const approveUpdate = defineUpdate<void, [{ by: string }]>('approve');
export const rejectUpdate = defineUpdate<void, [{ by: string; reason?: string | null }]>('reject');
export const pauseUpdate = defineUpdate<void, []>('pause');
export const resumeUpdate = defineUpdate<void, []>('resume');
export const statusQuery = defineQuery<string>('status');

/** Concurrency by key: a lock workflow per key grants one slot at a time, first in, first out. */
export const acquireSlotSignal = defineSignal<[{ runId: string; priority?: number; limit?: number }]>('acquireSlot');
export const releaseSlotSignal = defineSignal<[{ runId: string }]>('releaseSlot');
export const slotGrantedSignal = defineSignal<[{ key: string }]>('slotGranted');

export const lockWorkflowId = (organizationId: string, key: string): string => `tideway-lock:${organizationId}:${key}`;
export const jobSlotsWorkflowId = (jobId: string): string => `tideway-job-slots:${jobId}`;

/** A step's action run tells its automation run when it starts or stops waiting for approval. */
export const stepWaitingSignal = defineSignal<[{ stepKey: string; waiting: boolean }]>('stepWaiting');

// --- job runs ---
export interface JobCompletion {
  outcome: 'completed' | 'failed';
  result?: unknown;
  error?: string;
  attempt: number;
}
/** The callback API reports an async result (`complete` / `fail`); rejected when not executing. */
export const completeJobUpdate = defineUpdate<void, [JobCompletion]>('completeJob');
export const pauseJobUpdate = defineUpdate<void, []>('pauseJob');
export const resumeJobUpdate = defineUpdate<void, []>('resumeJob');
export const restartJobUpdate = defineUpdate<void, [{ machinePreset: string | null }]>('restartJob');
export const rescheduleJobUpdate = defineUpdate<void, [{ scheduledAt: string }]>('rescheduleJob');
/** spawn with await_completion: the parent waits for this child. */
export const awaitChildUpdate = defineUpdate<void, [{ childRunId: string }]>('awaitChild');
export const childFinishedSignal = defineSignal<[{ childRunId: string; status: string }]>('childFinished');
export const debugModeSignal = defineSignal<[{ debugMode: boolean }]>('debugMode');
