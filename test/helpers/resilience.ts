import path from 'node:path';
import type { Client } from '@temporalio/client';
import { pgCtl } from '../../scripts/stack';
import type { jobEndpoint } from './job-endpoint';
import { sql, testStack, waitFor, type Api } from './stack';

/**
 * Shared parts of the resilience suite. `npm run test:resilience` sets RESILIENCE=full for the sizes
 * the issue asks for; `npm test` (CI) runs the same tests at a smaller scale.
 */
export const FULL = process.env.RESILIENCE === 'full';
export const scale = (full: number, short: number): number => (FULL ? full : short);

/** Waits until every run of `jobId` is terminal (and there are at least `n`), then returns the counts by status. */
export type Query = (text: string, bindings?: unknown[]) => Promise<any[]>;

export async function settledJobRuns(jobId: string, n: number, timeoutMs = 300_000, db: Query = sql): Promise<Record<string, number>> {
  const terminal = ['completed', 'failed', 'dead_letter', 'crashed', 'system_failed', 'timed_out', 'canceled', 'expired'];
  const rows = await waitFor(
    () => db(`select status, count(*)::int as n from runs where target_id = ? group by status`, [jobId]),
    (rs) => rs.reduce((t: number, r: any) => t + r.n, 0) >= n && rs.every((r: any) => terminal.includes(r.status)),
    timeoutMs, `${n} runs of job ${jobId} to finish`,
  );
  return Object.fromEntries(rows.map((r: any) => [r.status, r.n]));
}

/**
 * Nothing done twice: every attempt a run recorded reached the endpoint exactly once, and the last
 * one the endpoint saw is the run's attempt (a lost worker's attempt is re-dispatched as the next).
 */
export async function expectEachAttemptOnce(ep: Awaited<ReturnType<typeof jobEndpoint>>, jobId: string, db: Query = sql): Promise<void> {
  const problems: string[] = [];
  for (const run of await db('select id, attempt from runs where target_id = ?', [jobId])) {
    const seen = ep.for(run.id).map((d) => d.attempt);
    if (new Set(seen).size !== seen.length || Math.max(...seen) !== run.attempt) problems.push(`${run.id}: attempt ${run.attempt}, endpoint saw ${seen.join(',')}`);
  }
  expect(problems).toEqual([]);
}

/** Fires `total` triggers from `concurrency` clients; `onProgress` runs before each (it may kill things). */
export async function triggerBurst(
  apis: () => Api, jobId: string, total: number, concurrency: number,
  opts: { onProgress?: (i: number) => Promise<void> | void; idempotencyKey?: (i: number) => string } = {},
): Promise<{ acknowledged: string[]; statuses: Record<number, number> }> {
  const acknowledged: string[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      await opts.onProgress?.(i);
      const headers: Record<string, string> = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey(i) } : {};
      const res = await apis().post(`/v1/jobs/${jobId}/trigger`, { payload: { i } }, headers).catch(() => null);
      const status = res?.status ?? 0; // 0: connection refused or reset
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (res && res.status < 300) acknowledged.push(res.body.id);
    }
  }));
  return { acknowledged, statuses };
}

/** The test stack's embedded Postgres, stopped and started with pg_ctl as an operator would. */
export function stackPostgres() {
  const s = testStack();
  const dir = path.join(s.dataDir, 'postgres', 'data');
  const port = Number(new URL(s.databaseUrl).port);
  return {
    stop: () => pgCtl(dir, ['stop', '-m', 'fast', '-w']),
    start: () => pgCtl(dir, ['start', '-w'], port),
  };
}

/** Triggers the housekeeping schedule now and returns what that run of it did. */
export async function runHousekeeping(client: Client): Promise<{ purged: number; rowsRepaired: number; workflowsTerminated: number }> {
  const handle = client.schedule.getHandle('tideway-housekeeping');
  const before = (await handle.describe()).info.recentActions.length;
  await handle.trigger();
  const desc = await waitFor(() => handle.describe(), (d) => d.info.recentActions.length > before, 20_000, 'housekeeping to start');
  const started = desc.info.recentActions[desc.info.recentActions.length - 1].action.workflow.workflowId;
  return client.workflow.getHandle(started).result();
}
