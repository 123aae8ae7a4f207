import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const acts = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

/** Started by an automation's Temporal Schedule: creates and starts one automation run. */
export async function automationScheduleWorkflow({ automationId }: { automationId: string }): Promise<string | null> {
  return acts.startScheduledAutomationRun({ automationId });
}
