import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { RunRow } from '../../db/entities';
import { HttpError, conflict } from '../errors';

/**
 * Sends a verb to a run's workflow as an update and waits for it to take effect. A validator's
 * rejection (the run is in the wrong state) is a 409 naming the status; so is a closed workflow.
 * No worker answering in time (none running, or all busy) is a 503 the client may retry.
 */
export async function sendRunUpdate<Args extends unknown[]>(
  temporal: Client, run: RunRow, def: UpdateDefinition<void, Args>, args: Args,
): Promise<void> {
  try {
    // The SDK's overloads split on whether an update takes arguments; this one helper serves both.
    await temporal.workflow.getHandle(run.id).executeUpdate(def as unknown as UpdateDefinition<void, [unknown]>, { args: args as unknown as [unknown] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw conflict(err.cause?.message ?? err.message);
    if (err instanceof WorkflowNotFoundError) throw conflict(`cannot change run in status ${run.status}`);
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new HttpError(503, 'no worker answered for this run in time; retry later', { 'Retry-After': '5' });
    }
    throw err;
  }
}
