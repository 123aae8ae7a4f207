/**
 * Run kinds and their status machines. Every status change of every run goes through
 * `assertTransition` (API services) or the SQL guard built from the same table (run store),
 * so an illegal change is an error, never a silent overwrite.
 */
export type RunKind = 'action' | 'automation' | 'data_product' | 'job';

export const ACTION_STATUSES = [
  'pending', 'queued', 'running', 'waiting_approval', 'pausing', 'paused',
  'cancelling', 'completed', 'failed', 'cancelled', 'rejected',
] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

type Table<S extends string> = Record<S, readonly S[]>;

const actionTransitions: Table<ActionStatus> = {
  pending: ['queued', 'cancelled'],
  queued: ['running', 'paused', 'cancelling', 'cancelled', 'failed'],
  running: ['waiting_approval', 'pausing', 'completed', 'failed', 'cancelling', 'cancelled'],
  waiting_approval: ['running', 'completed', 'rejected', 'failed', 'cancelling', 'cancelled'],
  pausing: ['paused', 'completed', 'failed', 'cancelling', 'cancelled'],
  paused: ['queued', 'cancelling', 'cancelled'],
  cancelling: ['cancelled', 'completed', 'failed', 'rejected'],
  completed: [],
  failed: ['queued'],
  cancelled: ['queued'],
  rejected: [],
};

export const AUTOMATION_STATUSES = ['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled'] as const;
export type AutomationStatus = (typeof AUTOMATION_STATUSES)[number];

/** Automation runs retry in place: any finished run may go back to pending. */
const automationTransitions: Table<AutomationStatus> = {
  pending: ['running', 'cancelled', 'failed'],
  running: ['waiting', 'completed', 'failed', 'cancelled'],
  waiting: ['running', 'completed', 'failed', 'cancelled'],
  completed: ['pending'],
  failed: ['pending'],
  cancelled: ['pending'],
};

export const JOB_STATUSES = [
  'delayed', 'queued', 'dequeued', 'executing', 'waiting', 'paused', 'completed', 'failed', 'timed_out', 'crashed',
  'system_failed', 'canceled', 'expired', 'dead_letter',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

const jobTransitions: Table<JobStatus> = {
  delayed: ['queued', 'waiting', 'expired', 'canceled', 'delayed', 'system_failed'],
  waiting: ['queued', 'executing', 'expired', 'canceled', 'system_failed', 'failed'],
  queued: ['dequeued', 'delayed', 'expired', 'canceled', 'paused', 'system_failed'],
  dequeued: ['executing', 'queued', 'canceled', 'system_failed'],
  executing: ['completed', 'queued', 'dead_letter', 'timed_out', 'failed', 'crashed', 'system_failed', 'waiting', 'paused', 'canceled', 'executing'],
  paused: ['queued', 'executing', 'canceled'],
  completed: [],
  failed: [],
  timed_out: [],
  crashed: [],
  system_failed: [],
  canceled: [],
  expired: [],
  dead_letter: ['queued'],
};

export const TERMINAL: Record<RunKind, readonly string[]> = {
  action: ['completed', 'failed', 'cancelled', 'rejected'],
  automation: ['completed', 'failed', 'cancelled'],
  data_product: ['completed', 'failed', 'cancelled'],
  job: ['completed', 'failed', 'timed_out', 'crashed', 'system_failed', 'canceled', 'expired', 'dead_letter'],
};

/** Children of a run may be of any kind: a status terminal for any kind means the run is done. */
export const ALL_TERMINAL_STATUSES = [...new Set(Object.values(TERMINAL).flat())];

const tables: Partial<Record<RunKind, Table<string>>> = { action: actionTransitions, automation: automationTransitions, job: jobTransitions };

export function isTerminal(kind: RunKind, status: string): boolean {
  return TERMINAL[kind].includes(status);
}

/** The statuses a run of `kind` may move to `to` from. */
export function allowedFrom(kind: RunKind, to: string): string[] {
  const table = tables[kind];
  if (!table) throw new Error(`no status machine for run kind ${kind}`);
  return Object.entries(table)
    .filter(([, targets]) => targets.includes(to))
    .map(([from]) => from);
}

export function canTransition(kind: RunKind, from: string, to: string): boolean {
  return tables[kind]?.[from]?.includes(to) ?? false;
}

export class IllegalTransitionError extends Error {
  constructor(readonly kind: RunKind, readonly from: string, readonly to: string, verb?: string) {
    super(`cannot ${verb ?? `move to ${to}`} run in status ${from}`);
    this.name = 'IllegalTransitionError';
  }
}

export function assertTransition(kind: RunKind, from: string, to: string, verb?: string): void {
  if (!canTransition(kind, from, to)) throw new IllegalTransitionError(kind, from, to, verb);
}
