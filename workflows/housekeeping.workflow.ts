import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const acts = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 3 } });

/** Run by the `tideway-housekeeping` schedule: retention, then reconciliation. */
export async function housekeepingWorkflow(): Promise<{ purged: number; rowsRepaired: number; workflowsTerminated: number }> {
  let purged = 0;
  for (let i = 0; i < 20; i++) {
    const n = await acts.purgeOldRuns({});
    purged += n;
    if (n === 0) break;
  }
  const reconciled = await acts.reconcileRuns({});
  return { purged, ...reconciled };
}
