import { api, ms, pct, writeResult } from './lib';
import { benchTenant, drive, noopEndpoint, pg, settledRuns, startBaselineWorker, temporalClient, type Driven } from './load';

/**
 * `throughput`: N no-op runs of one kind through Tideway, end to end, then the same work on bare
 * Temporal in the same run (a plain client starting a workflow that calls one activity POSTing to the
 * same endpoint, or four for the automation), so the figure to quote is the ratio. Usage:
 *   tsx bench/throughput.ts [job|action|automation] [runs=2000] [clients=20]
 * job: POST /v1/jobs/{id}/trigger, the endpoint answers 200 at once. action: POST /api/v1/action-runs
 * + /execute of an http_request. automation: POST …/automations/{id}/runs of a diamond of 4 http_request steps.
 */
const kind = (process.argv[2] ?? 'job') as 'job' | 'action' | 'automation';
const runs = Number(process.argv[3] ?? 2000);
const clients = Number(process.argv[4] ?? 20);

interface Side { runs_per_second: number; triggers_per_second: number; trigger_ms: { p50: number; p99: number }; dispatch_ms?: { p50: number; p99: number }; completed_ms: { p50: number; p99: number }; failed: number }

function summarise(d: Driven, completedAt: Map<string, number>, firstSeen: Map<string, number>, failed: number): Side {
  const e2e = d.ids.map((id) => completedAt.get(id)! - d.sentAt.get(id)!);
  const dispatch = d.ids.filter((id) => firstSeen.has(id)).map((id) => firstSeen.get(id)! - d.sentAt.get(id)!);
  const first = Math.min(...d.sentAt.values());
  const last = Math.max(...completedAt.values());
  return {
    runs_per_second: Number((d.ids.length / ((last - first) / 1000)).toFixed(1)),
    triggers_per_second: Number((d.ids.length / (d.elapsedMs / 1000)).toFixed(1)),
    trigger_ms: { p50: ms(pct(d.latency, 50)), p99: ms(pct(d.latency, 99)) },
    ...(dispatch.length ? { dispatch_ms: { p50: Math.round(pct(dispatch, 50)), p99: Math.round(pct(dispatch, 99)) } } : {}),
    completed_ms: { p50: Math.round(pct(e2e, 50)), p99: Math.round(pct(e2e, 99)) },
    failed,
  };
}

async function tideway(url: string, firstSeen: Map<string, number>): Promise<Side> {
  const key = await benchTenant(`bench-${kind}`);
  const call = (method: string, path: string, body?: unknown) => api(method, path, body, key);
  let trigger: (i: number) => Promise<string>;
  if (kind === 'job') {
    const job = await call('POST', '/v1/jobs', { name: 'bench-noop', slug: 'bench-noop', endpoint_url: url, max_attempts: 1 });
    trigger = async (i) => (await call('POST', `/v1/jobs/${job.id}/trigger`, { payload: { i } })).id;
  } else if (kind === 'action') {
    trigger = async (i) => {
      const run = await call('POST', '/api/v1/action-runs', { kind: 'http_request', definition: { url, method: 'POST', body: { i } } });
      await call('POST', `/api/v1/action-runs/${run.id}/execute`);
      return run.id;
    };
  } else {
    const step = (key: string, dependsOn: string[] = []) => ({ key, kind: 'http_request', definition: { url, method: 'POST', body: { step: key } }, dependsOn });
    const automation = await call('POST', '/api/v1/automations', { name: 'bench-diamond', steps: [step('a'), step('b', ['a']), step('c', ['a']), step('d', ['b', 'c'])] });
    trigger = async () => (await call('POST', `/api/v1/automations/${automation.id}/runs`, {})).id;
  }
  const d = await drive({ clients, total: runs }, trigger);
  const db = await pg();
  try {
    const settled = await settledRuns(db, d.ids);
    const failed = [...settled.values()].filter((r) => r.status !== 'completed').length;
    return summarise(d, new Map([...settled].map(([id, r]) => [id, r.completedAt])), firstSeen, failed);
  } finally {
    await db.end();
  }
}

async function bareTemporal(url: string, firstSeen: Map<string, number>): Promise<Side> {
  const taskQueue = `bench-baseline-${kind}-${Date.now()}`;
  const worker = await startBaselineWorker(taskQueue);
  const client = await temporalClient();
  try {
    const workflowType = kind === 'automation' ? 'baselineDiamond' : 'baselineCall';
    const d = await drive({ clients, total: runs }, async (i) => {
      const workflowId = `${taskQueue}-${i}`;
      await client.workflow.start(workflowType, { taskQueue, workflowId, args: [url, { id: workflowId, i }] });
      return workflowId;
    });
    const completedAt = new Map<string, number>();
    let failed = 0;
    // Every result, 100 at a time (a long poll each), the way a Temporal user awaits them.
    for (let i = 0; i < d.ids.length; i += 100) {
      await Promise.all(d.ids.slice(i, i + 100).map(async (id) => {
        const handle = client.workflow.getHandle(id);
        await handle.result().catch(() => failed++);
        completedAt.set(id, (await handle.describe()).closeTime!.getTime());
      }));
    }
    return summarise(d, completedAt, firstSeen, failed);
  } finally {
    await client.connection.close();
    await worker.stop();
  }
}

async function main() {
  const endpoint = await noopEndpoint();
  try {
    const t = await tideway(endpoint.url, endpoint.firstSeen);
    const b = await bareTemporal(endpoint.url, endpoint.firstSeen);
    const result = {
      benchmark: 'throughput', kind, runs, clients, tideway: t, bare_temporal: b,
      ratio: {
        runs_per_second: Number((t.runs_per_second / b.runs_per_second).toFixed(2)),
        completed_p50: Number((t.completed_ms.p50 / b.completed_ms.p50).toFixed(2)),
      },
    };
    const row = (s: Side) => ({
      'runs/s': s.runs_per_second, 'triggers/s': s.triggers_per_second, 'trigger p50 ms': s.trigger_ms.p50, 'trigger p99 ms': s.trigger_ms.p99,
      'dispatch p50 ms': s.dispatch_ms?.p50 ?? '-', 'dispatch p99 ms': s.dispatch_ms?.p99 ?? '-',
      'completed p50 ms': s.completed_ms.p50, 'completed p99 ms': s.completed_ms.p99, failed: s.failed,
    });
    console.table({ [`Tideway ${kind}`]: row(t), 'bare Temporal': row(b) });
    console.log(`Tideway / bare Temporal: ${result.ratio.runs_per_second}× the runs/s`);
    writeResult(`throughput-${kind}`, result);
  } finally {
    await endpoint.close();
  }
}
main().catch((err) => { console.error(err); process.exit(1); });
