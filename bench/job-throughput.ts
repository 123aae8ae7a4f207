import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client as PgClient } from 'pg';

/**
 * End-to-end throughput of no-op job runs on a running stack (`npm start`; reads DATA_DIR/stack.json):
 * a local endpoint answers 200 at once; N runs are triggered by C concurrent clients; the figure is
 * runs completed per second from the first trigger to the last completion. Usage:
 *   BOOTSTRAP_API_KEY=... npx tsx bench/job-throughput.ts [runs=500] [clients=20]
 */
const dataDir = path.resolve(process.env.DATA_DIR || '.data');
const stack = JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8'));
const key = process.env.BOOTSTRAP_API_KEY ?? process.env.TIDEWAY_API_KEY;
const runs = Number(process.argv[2] ?? 500);
const clients = Number(process.argv[3] ?? 20);

async function api(method: string, url: string, body?: unknown) {
  const res = await fetch(stack.apiUrl + url, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<any>;
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main() {
  const endpoint = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); }); });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/noop`;
  const job = await api('POST', '/v1/jobs', { name: 'bench-noop', slug: `bench-noop-${Date.now()}`, endpoint_url: url, max_attempts: 1 });
  const pg = new PgClient({ connectionString: stack.databaseUrl });
  await pg.connect();

  const t0 = Date.now();
  const triggerLatency: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < runs) {
      next++;
      const s = performance.now();
      await api('POST', `/v1/jobs/${job.id}/trigger`, { payload: { i: next } });
      triggerLatency.push(performance.now() - s);
    }
  }));
  const triggeredIn = Date.now() - t0;
  for (;;) {
    const { rows } = await pg.query(`select count(*) filter (where status = 'completed') as done, count(*) filter (where status in ('dead_letter','failed','crashed','system_failed','timed_out')) as bad from runs where target_id = $1`, [job.id]);
    if (Number(rows[0].done) + Number(rows[0].bad) >= runs) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const { rows: lat } = await pg.query(`select extract(epoch from (completed_at - created_at)) * 1000 as ms, status from runs where target_id = $1`, [job.id]);
  const { rows: span } = await pg.query(`select extract(epoch from (max(completed_at) - min(created_at))) as s from runs where target_id = $1`, [job.id]);
  const endToEnd = lat.map((r) => Number(r.ms));
  const result = {
    benchmark: 'job-throughput', runs, clients,
    completed: lat.filter((r) => r.status === 'completed').length,
    runs_per_second: Number((runs / Number(span[0].s)).toFixed(1)),
    triggers_per_second: Number((runs / (triggeredIn / 1000)).toFixed(1)),
    trigger_latency_ms: { p50: Math.round(pct(triggerLatency, 50)), p99: Math.round(pct(triggerLatency, 99)) },
    trigger_to_completed_ms: { p50: Math.round(pct(endToEnd, 50)), p99: Math.round(pct(endToEnd, 99)) },
  };
  console.table({ [`${runs} no-op runs, ${clients} clients`]: { 'runs/s': result.runs_per_second, 'triggers/s': result.triggers_per_second, 'trigger p50 ms': result.trigger_latency_ms.p50, 'trigger p99 ms': result.trigger_latency_ms.p99, 'e2e p50 ms': result.trigger_to_completed_ms.p50, 'e2e p99 ms': result.trigger_to_completed_ms.p99 } });
  console.log(JSON.stringify(result));
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'job-throughput.json'), JSON.stringify(result, null, 2));
  await pg.end();
  endpoint.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
