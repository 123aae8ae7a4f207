export { actionRunWorkflow } from './action-run.workflow';
export { concurrencyLockWorkflow } from './concurrency-lock.workflow';
