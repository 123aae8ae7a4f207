/**
 * Step DAGs of automations: validation at save, readiness while running, and the set of steps a
 * retry re-runs. Pure functions: the automation workflow and the API share them.
 */
export interface StepSpec {
  key: string;
  dependsOn: string[];
}

export interface DagIssue {
  index: number;
  field: 'key' | 'dependsOn';
  message: string;
}

/** Duplicate keys, unknown dependencies and cycles, each naming the step. */
export function validateDag(steps: StepSpec[]): DagIssue[] {
  const issues: DagIssue[] = [];
  const index = new Map<string, number>();
  steps.forEach((s, i) => {
    if (index.has(s.key)) issues.push({ index: i, field: 'key', message: `duplicate step key "${s.key}"` });
    else index.set(s.key, i);
  });
  steps.forEach((s, i) => {
    for (const dep of s.dependsOn) {
      if (!index.has(dep)) issues.push({ index: i, field: 'dependsOn', message: `step "${s.key}" depends on unknown step "${dep}"` });
      if (dep === s.key) issues.push({ index: i, field: 'dependsOn', message: `step "${s.key}" depends on itself` });
    }
  });
  if (issues.length) return issues;
  const cycle = findCycle(steps);
  if (cycle) issues.push({ index: index.get(cycle[0])!, field: 'dependsOn', message: `cycle: ${cycle.join(' → ')}` });
  return issues;
}

function findCycle(steps: StepSpec[]): string[] | null {
  const deps = new Map(steps.map((s) => [s.key, s.dependsOn]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (key: string): string[] | null => {
    if (state.get(key) === 'done') return null;
    if (state.get(key) === 'visiting') return [...path.slice(path.indexOf(key)), key];
    state.set(key, 'visiting');
    path.push(key);
    for (const d of deps.get(key) ?? []) {
      const found = visit(d);
      if (found) return found;
    }
    path.pop();
    state.set(key, 'done');
    return null;
  };
  for (const s of steps) {
    const found = visit(s.key);
    if (found) return found;
  }
  return null;
}

/** Every step downstream of `roots` (not including them). */
export function downstreamOf(steps: StepSpec[], roots: Iterable<string>): Set<string> {
  const children = new Map<string, string[]>();
  for (const s of steps) for (const d of s.dependsOn) children.set(d, [...(children.get(d) ?? []), s.key]);
  const out = new Set<string>();
  const queue = [...roots];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        queue.push(c);
      }
    }
  }
  return out;
}

/** Every step upstream of `key` (its transitive dependencies). */
export function upstreamOf(steps: StepSpec[], key: string): Set<string> {
  const deps = new Map(steps.map((s) => [s.key, s.dependsOn]));
  const out = new Set<string>();
  const queue = [...(deps.get(key) ?? [])];
  while (queue.length) {
    const k = queue.shift()!;
    if (out.has(k)) continue;
    out.add(k);
    queue.push(...(deps.get(k) ?? []));
  }
  return out;
}

export type StepStatus = 'pending' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled' | 'skipped';

export type RetryMode = 'from_failed' | 'from_step' | 'full';

export class RetryPlanError extends Error {
  constructor(message: string, readonly kind: 'conflict' | 'invalid') {
    super(message);
  }
}

/**
 * Which steps a retry re-runs (the others are reused with their action runs). from_failed: every
 * step not completed, and everything downstream of those. from_step: the step and its downstream,
 * once every upstream step is completed. full: all of them.
 */
export function planRetry(steps: (StepSpec & { status: string })[], mode: RetryMode, stepKey?: string): { rerun: string[]; reuse: string[] } {
  let rerun: Set<string>;
  if (mode === 'full') rerun = new Set(steps.map((s) => s.key));
  else if (mode === 'from_step') {
    const step = steps.find((s) => s.key === stepKey);
    if (!step) throw new RetryPlanError(`unknown step "${stepKey}"`, 'invalid');
    const notDone = [...upstreamOf(steps, step.key)].filter((k) => steps.find((s) => s.key === k)!.status !== 'completed');
    if (notDone.length) throw new RetryPlanError(`cannot retry from step ${step.key}: upstream steps not completed: ${notDone.join(', ')}`, 'conflict');
    rerun = new Set([step.key, ...downstreamOf(steps, [step.key])]);
  } else {
    const failed = steps.filter((s) => s.status !== 'completed').map((s) => s.key);
    rerun = new Set([...failed, ...downstreamOf(steps, failed)]);
  }
  const order = steps.map((s) => s.key);
  return { rerun: order.filter((k) => rerun.has(k)), reuse: order.filter((k) => !rerun.has(k)) };
}
