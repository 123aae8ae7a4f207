import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RunRow } from '../db/entities';
import type { RunStore } from '../db/run-store';
import { IllegalTransitionError, type RunKind } from './run-status';

export interface CancelDeps {
  store: RunStore;
  client: Client;
}

/** The status a cancel request moves a run to: at once for a run with no live workflow. */
function cancelTarget(run: RunRow): 'cancelled' | 'cancelling' {
  return run.status === 'pending' ? 'cancelled' : 'cancelling';
}

/**
 * Requests cancellation of one run. A run that never started is cancelled at once; a started one
 * goes `cancelling` and its workflow is cancelled, which ends it `cancelled` and cascades further.
 */
export async function cancelRun({ store, client }: CancelDeps, run: RunRow, reason: string): Promise<RunRow> {
  if (run.kind !== 'action') {
    // Automation and job runs have no `cancelling` status: the workflow records the cancellation itself.
    try {
      await client.workflow.getHandle(run.id).cancel();
      return run;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      const to = run.kind === 'job' ? 'canceled' : 'cancelled';
      return store.transition({ runId: run.id, kind: run.kind as RunKind, to, verb: 'cancel', log: { message: `${to}: ${reason}` } });
    }
  }
  const to = cancelTarget(run);
  const updated = await store.transition({
    runId: run.id, kind: run.kind as RunKind, to, verb: 'cancel', log: { message: `cancel requested: ${reason}` },
  });
  if (to === 'cancelling') {
    try {
      await client.workflow.getHandle(run.id).cancel();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // No live workflow (it ended between the read and the cancel): finish the cancel here.
      return store.transition({ runId: run.id, kind: run.kind as RunKind, to: 'cancelled', log: { message: 'cancelled' } });
    }
  }
  return updated;
}

/** Cancels a run's active descendants (and the run itself with includeRoot), nearest first. */
export async function cancelRunTree(deps: CancelDeps, runId: string, reason: string, opts: { includeRoot: boolean }): Promise<void> {
  if (opts.includeRoot) {
    const root = await deps.store.require(runId);
    await cancelRun(deps, root, reason);
  }
  for (const child of await deps.store.activeDescendants(runId)) {
    try {
      await cancelRun(deps, child, reason);
    } catch (err) {
      if (!(err instanceof IllegalTransitionError)) throw err; // already cancelling or just finished
    }
  }
}

/**
 * Cancels a started run of a kind whose workflow records the cancellation (automation, job) and
 * waits a little for it, so the caller can answer with the final status; then its descendants.
 */
export async function cancelRunAndWait(deps: CancelDeps, run: RunRow, reason: string, waitMs = 10_000): Promise<void> {
  await cancelRun(deps, run, reason);
  const done = deps.client.workflow.getHandle(run.id).result().catch(() => undefined);
  await Promise.race([done, new Promise((r) => setTimeout(r, waitMs))]);
  await cancelRunTree(deps, run.id, reason, { includeRoot: false });
}
