export { actionRunWorkflow } from './action-run.workflow';
export { automationRunWorkflow } from './automation-run.workflow';
export { automationScheduleWorkflow } from './automation-schedule.workflow';
export { concurrencyLockWorkflow } from './concurrency-lock.workflow';
export { jobRunWorkflow } from './job-run.workflow';
export { housekeepingWorkflow } from './housekeeping.workflow';
