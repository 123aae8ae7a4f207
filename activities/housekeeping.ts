import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ALL_TERMINAL_STATUSES, type RunKind } from '../core/run-status';
import type { RunRow } from '../db/entities';
import type { RunStore } from '../db/run-store';
import { rows } from '../db/sql';

/** What a run whose workflow is gone ends as, per kind. */
const LOST_STATUS: Record<string, string> = { action: 'failed', automation: 'failed', job: 'system_failed', data_product: 'failed' };

export interface HousekeepingDeps {
  store: RunStore;
  client: Client;
  retentionDays: number;
  /** A row and workflow must disagree for this long before they are repaired (writes in flight are not). */
  reconcileAfterSecs: number;
}

/**
 * Retention and reconciliation. Each call does a bounded batch, so the schedule that runs them
 * keeps up without long transactions; both are safe to run from any worker, any number of times.
 */
export function createHousekeepingActivities({ store, client, retentionDays, reconcileAfterSecs }: HousekeepingDeps) {
  return {
    /** Deletes terminal runs (with their events, logs and reports) finished over RUN_RETENTION_DAYS ago; never an active run. */
    async purgeOldRuns({ batch = 1000 }: { batch?: number } = {}): Promise<number> {
      const res = await store.knex.raw(
        `delete from runs where id in (
           select id from runs where status = any(?) and completed_at < now() - make_interval(days => ?) limit ?)`,
        [ALL_TERMINAL_STATUSES, retentionDays, batch],
      );
      return res.rowCount ?? 0;
    },

    /**
     * Finds runs whose row and workflow disagree and repairs them: a non-terminal row whose workflow
     * is gone or closed ends in the kind's failure status; a running workflow whose row is missing
     * (a crash between the two writes) is terminated.
     */
    async reconcileRuns({ olderThanSecs = reconcileAfterSecs, batch = 200 }: { olderThanSecs?: number; batch?: number } = {}): Promise<{ rowsRepaired: number; workflowsTerminated: number }> {
      const stale = await rows<RunRow>(store.knex,
        // completed_at is null exactly for non-terminal runs; it lets the partial index runs_open_updated_at serve this.
        `select * from runs where completed_at is null and not (status = any(?)) and not (kind = 'action' and status = 'pending')
           and updated_at < now() - make_interval(secs => ?) order by updated_at limit ?`,
        [ALL_TERMINAL_STATUSES, olderThanSecs, batch]);
      let rowsRepaired = 0;
      for (const run of stale) {
        let open = false;
        try {
          const d = await client.workflow.getHandle(run.id).describe();
          open = d.status.name === 'RUNNING';
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        if (open) continue;
        try {
          await store.transition({
            runId: run.id, kind: run.kind as RunKind, to: LOST_STATUS[run.kind],
            patch: { error: run.kind === 'job' ? 'workflow lost: repaired by the reconciler' : { code: 'workflow_lost', message: 'the run\'s workflow is gone; repaired by the reconciler' } },
            log: { level: 'error', message: 'workflow lost: repaired by the reconciler' },
          });
          rowsRepaired++;
        } catch {
          /* moved on meanwhile */
        }
      }
      let workflowsTerminated = 0;
      const cutoff = new Date(Date.now() - olderThanSecs * 1000).toISOString();
      const open: string[] = [];
      for await (const wf of client.workflow.list({ query: `TidewayRunKind IS NOT NULL AND ExecutionStatus = 'Running' AND StartTime < '${cutoff}'`, pageSize: batch })) {
        open.push(wf.workflowId);
        if (open.length >= batch) break;
      }
      if (open.length) {
        const known = new Set((await rows<{ id: string }>(store.knex, 'select id from runs where id = any(?::uuid[])', [open])).map((r) => r.id));
        for (const id of open.filter((w) => !known.has(w))) {
          await client.workflow.getHandle(id).terminate('no run row: repaired by the reconciler').catch(() => undefined);
          workflowsTerminated++;
        }
      }
      return { rowsRepaired, workflowsTerminated };
    },
  };
}
