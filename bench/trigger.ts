import { api, ms, pct, writeResult } from './lib';
import { benchTenant, drive, temporalClient, type Driven } from './load';

/**
 * `trigger`: C concurrent clients trigger job runs for S seconds; requests/s and latency of
 * `POST /v1/jobs/{id}/trigger`, then of bare `client.workflow.start` for the same time. Both start
 * their workflows on a task queue no worker polls, so only the trigger path is measured (execution
 * would compete for the same two cores); the workflows are terminated afterwards. Usage:
 *   tsx bench/trigger.ts [clients=50] [seconds=30]
 */
const clients = Number(process.argv[2] ?? 50);
const seconds = Number(process.argv[3] ?? 30);

const summary = (d: Driven) => ({
  requests: d.ids.length, errors: d.errors, requests_per_second: Number((d.ids.length / (d.elapsedMs / 1000)).toFixed(1)),
  latency_ms: { p50: ms(pct(d.latency, 50)), p95: ms(pct(d.latency, 95)), p99: ms(pct(d.latency, 99)) },
});

async function main() {
  const idleQueue = `bench-idle-${Date.now()}`;
  const key = await benchTenant('bench-trigger', idleQueue);
  const job = await api('POST', '/v1/jobs', { name: 'bench-trigger', slug: 'bench-trigger', endpoint_url: 'http://127.0.0.1:9/never' }, key);
  const t = await drive({ clients, durationMs: seconds * 1000 }, async (i) => (await api('POST', `/v1/jobs/${job.id}/trigger`, { payload: { i } }, key)).id);

  const client = await temporalClient();
  try {
    const baselineQueue = `${idleQueue}-bare`;
    const b = await drive({ clients, durationMs: seconds * 1000 }, async (i) => {
      const workflowId = `${baselineQueue}-${i}`;
      await client.workflow.start('baselineCall', { taskQueue: baselineQueue, workflowId, args: ['http://127.0.0.1:9/never', { i }] });
      return workflowId;
    });
    const result = {
      benchmark: 'trigger', clients, seconds, tideway: summary(t), bare_temporal: summary(b),
      ratio: {
        requests_per_second: Number((t.ids.length / (t.elapsedMs / 1000) / (b.ids.length / (b.elapsedMs / 1000))).toFixed(2)),
        p50: Number((pct(t.latency, 50) / pct(b.latency, 50)).toFixed(2)),
      },
    };
    const row = (s: ReturnType<typeof summary>) => ({ 'req/s': s.requests_per_second, 'p50 ms': s.latency_ms.p50, 'p95 ms': s.latency_ms.p95, 'p99 ms': s.latency_ms.p99, errors: s.errors });
    console.table({ 'POST /v1/jobs/{id}/trigger': row(result.tideway), 'bare client.workflow.start': row(result.bare_temporal) });
    console.log(`Tideway / bare Temporal: ${result.ratio.requests_per_second}× the requests/s, ${result.ratio.p50}× the p50`);
    writeResult('trigger', result);
    // Nothing polls those queues: terminate what was started so a long-lived stack is left clean.
    for (const queue of [idleQueue, baselineQueue]) {
      await client.workflowService.startBatchOperation({
        namespace: client.options.namespace, jobId: `${queue}-cleanup`, reason: 'trigger benchmark cleanup',
        visibilityQuery: `TaskQueue = '${queue}' AND ExecutionStatus = 'Running'`, terminationOperation: {},
      }).catch((err) => console.error(`cleanup of ${queue}: ${String(err)}`));
    }
  } finally {
    await client.connection.close();
  }
}
main().catch((err) => { console.error(err); process.exit(1); });
