import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { newId } from '../core/ids';
import { initOrm } from '../db/orm';
import { RunStore } from '../db/run-store';
import { createApiKey, ensureTenant } from '../db/tenancy';
import { freePort } from '../scripts/stack';
import { ms, pct, stack, writeResult } from './lib';

/**
 * Live event fan-out: `subscribers` SSE clients of GET /v1/runs/{id}/stream on one API process,
 * spread over `runs` executing job runs that each write `rate` events a second for `seconds`
 * (through RunStore.appendEvent, the workers' and callback API's path). Measures delivery latency
 * from the start of the write to receipt, lost or duplicated events, and the API's RSS and CPU.
 * The API is a dedicated process on the stack's Postgres and Temporal, so nothing else loads it.
 * The floor: a bare Node http server fanning the same frames out from an in-process timer.
 * Usage: npx tsx bench/stream.ts [subscribers=2000] [runs=20] [rate=2] [seconds=20]   (DATA_DIR names the stack)
 */
const ROOT = path.resolve(__dirname, '..');
const now = () => performance.timeOrigin + performance.now();

interface Side {
  connect_ms: { p50: number; p99: number };
  latency_ms: { p50: number; p99: number; max: number };
  /** How long the write itself took (transaction with its NOTIFY), part of the latency; null for the floor. */
  write_ms: { p50: number; p99: number } | null;
  delivered: number;
  expected: number;
  lost: number;
  duplicated: number;
  rss_mib: { idle: number; connected: number; peak: number };
  cpu_percent: number;
  /** Postgres transactions committed per second while the runs emitted (every statement outside one counts). */
  db_commits_per_second: number | null;
}

main().catch((err) => { console.error(err); process.exit(1); });

async function main() {
  const subscribers = Number(process.argv[2] ?? 2000);
  const runs = Number(process.argv[3] ?? 20);
  const rate = Number(process.argv[4] ?? 2);
  const seconds = Number(process.argv[5] ?? 20);
  const { databaseUrl, temporalAddress, namespace } = stack();
  const orm = await initOrm({ databaseUrl, poolMax: runs + 2 });
  const store = new RunStore(orm.em.getConnection().getKnex());
  const tenant = await ensureTenant(store.knex, { organizationName: `bench-stream-${Date.now()}` });
  const key = await createApiKey(store.knex, tenant, { name: 'bench-stream' });
  const runIds: string[] = [];
  const jobId = newId();
  for (let r = 0; r < runs; r++) {
    const id = newId();
    await store.insert({ id, kind: 'job', executor: jobId, targetId: jobId, organizationId: tenant.organizationId, projectId: tenant.projectId, status: 'executing' });
    runIds.push(id);
  }

  const port = await freePort();
  const api = spawn(process.execPath, ['--import', 'tsx', 'api/server.ts'], {
    cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: namespace ?? 'default', PORT: String(port), TIDEWAY_SKIP_MIGRATIONS: '1', LOG_LEVEL: 'warn', BOOTSTRAP_API_KEY: '' },
  });
  const apiUrl = `http://127.0.0.1:${port}`;
  let tideway: Side;
  try {
    await waitFor(`${apiUrl}/healthz`, api);
    tideway = await measure({
      pid: api.pid!, subscribers, runs, rate, seconds,
      url: (r) => `${apiUrl}/v1/runs/${runIds[r]}/stream`, headers: { authorization: `Bearer ${key}` },
      emit: async (r, seq) => {
        const t = now();
        await store.appendEvent(runIds[r], 'bench', { seq, t }, undefined, 'info', `event ${seq}`);
      },
      finish: async () => {
        await Promise.all(runIds.map((runId) => store.transition({ runId, kind: 'job', to: 'completed' })));
      },
      dbCommits: async () => Number((await store.knex.raw('select xact_commit from pg_stat_database where datname = current_database()')).rows[0].xact_commit),
    });
  } finally {
    await stop(api);
  }

  const floorPort = await freePort();
  const floor = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'sse-floor.ts'), String(floorPort), String(runs), String(rate)], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  let bare: Side;
  try {
    await waitFor(`${floorUrl}/healthz`, floor);
    bare = await measure({
      pid: floor.pid!, subscribers, runs, rate, seconds, url: (r) => `${floorUrl}/runs/${r}/stream`, headers: {},
      emit: null,
      finish: async () => (await fetch(`${floorUrl}/stop`, { method: 'POST' })).json() as Promise<number[]>,
      start: async () => { await fetch(`${floorUrl}/start`, { method: 'POST' }); },
    });
  } finally {
    await stop(floor);
  }

  const row = (s: Side) => ({
    'connect p50 ms': s.connect_ms.p50, 'connect p99 ms': s.connect_ms.p99, 'latency p50 ms': s.latency_ms.p50, 'latency p99 ms': s.latency_ms.p99,
    'latency max ms': s.latency_ms.max, 'write p50/p99 ms': s.write_ms ? `${s.write_ms.p50} / ${s.write_ms.p99}` : '', delivered: s.delivered, lost: s.lost, duplicated: s.duplicated,
    'RSS idle MiB': s.rss_mib.idle, 'RSS connected MiB': s.rss_mib.connected, 'RSS peak MiB': s.rss_mib.peak, 'CPU %': s.cpu_percent, 'DB commits/s': s.db_commits_per_second ?? '',
  });
  const ratio = {
    latency_p50: Number((tideway.latency_ms.p50 / Math.max(bare.latency_ms.p50, 0.1)).toFixed(1)),
    latency_p99: Number((tideway.latency_ms.p99 / Math.max(bare.latency_ms.p99, 0.1)).toFixed(1)),
    rss_peak: Number((tideway.rss_mib.peak / bare.rss_mib.peak).toFixed(1)),
  };
  console.table({ [`tideway API (${subscribers} subscribers, ${runs} runs × ${rate}/s)`]: row(tideway), 'bare Node SSE floor': row(bare) });
  console.log(`tideway / floor: latency p50 ×${ratio.latency_p50}, p99 ×${ratio.latency_p99}, peak RSS ×${ratio.rss_peak}`);
  writeResult('stream', {
    benchmark: 'stream', subscribers, runs, events_per_run_per_second: rate, seconds,
    deliveries_per_second: (subscribers / runs) * runs * rate, tideway, floor: bare, ratio,
  });
  await orm.close();
}

/** Connects the subscribers, has every run emit for `seconds`, ends the runs and tallies what arrived. */
async function measure(o: {
  pid: number; subscribers: number; runs: number; rate: number; seconds: number; url: (run: number) => string; headers: Record<string, string>;
  /** Writes one event of a run; null when the server emits by itself after `start()`. */
  emit: ((run: number, seq: number) => Promise<void>) | null; start?: () => Promise<void>;
  /** Ends the runs; a self-emitting server answers how many events each run sent. */
  finish: () => Promise<number[] | void>;
  dbCommits?: () => Promise<number>;
}): Promise<Side> {
  const rss = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${o.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
  const cpuTicks = () => fs.readFileSync(`/proc/${o.pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0);
  const idle = rss();
  const latencies: number[] = [];
  const connectTimes: number[] = [];
  const seen = Array.from({ length: o.subscribers }, () => new Set<number>());
  let duplicated = 0;
  const closed: Promise<void>[] = [];

  // Connect in waves of 100, as a crowd of browsers would arrive.
  for (let base = 0; base < o.subscribers; base += 100) {
    await Promise.all(Array.from({ length: Math.min(100, o.subscribers - base) }, (_, k) => new Promise<void>((connected, failed) => {
      const sub = base + k;
      const t0 = performance.now();
      const req = http.get(o.url(sub % o.runs), { agent: false, headers: { accept: 'text/event-stream', ...o.headers } }, (res) => {
        if (res.statusCode !== 200) { failed(new Error(`subscriber ${sub}: HTTP ${res.statusCode}`)); return; }
        res.setEncoding('utf8');
        let buf = '';
        let first = true;
        res.on('data', (chunk: string) => {
          if (first) { first = false; connectTimes.push(performance.now() - t0); connected(); }
          buf += chunk;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, end);
            buf = buf.slice(end + 2);
            if (!frame.includes('event: bench')) continue;
            const data = JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as { data: { seq: number; t: number } };
            latencies.push(now() - data.data.t);
            if (seen[sub].has(data.data.seq)) duplicated++;
            seen[sub].add(data.data.seq);
          }
        });
        closed.push(new Promise((r) => res.on('close', r)));
      });
      req.on('error', failed);
    })));
  }
  const connected = rss();

  let peak = connected;
  const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 250);
  const cpu0 = cpuTicks();
  const commits0 = await o.dbCommits?.();
  const wall0 = performance.now();
  let emitted = Array.from({ length: o.runs }, () => 0);
  const writes: number[] = [];
  if (o.emit) {
    const emit = o.emit;
    const deadline = performance.now() + o.seconds * 1000;
    await Promise.all(Array.from({ length: o.runs }, async (_, r) => {
      await new Promise((res) => setTimeout(res, (r * 1000) / o.rate / o.runs));
      for (let seq = 1; performance.now() < deadline; seq++) {
        const next = performance.now() + 1000 / o.rate;
        const w = performance.now();
        await emit(r, seq);
        writes.push(performance.now() - w);
        emitted[r]++;
        await new Promise((res) => setTimeout(res, Math.max(0, next - performance.now())));
      }
    }));
  } else {
    await o.start!();
    await new Promise((res) => setTimeout(res, o.seconds * 1000));
  }
  await new Promise((res) => setTimeout(res, 2000));
  const elapsed = (performance.now() - wall0) / 1000;
  const cpu = ((cpuTicks() - cpu0) / 100) / elapsed;
  const commits = o.dbCommits && commits0 !== undefined ? Math.round(((await o.dbCommits()) - commits0) / elapsed) : null;
  clearInterval(sampler);
  emitted = (await o.finish()) ?? emitted;
  await Promise.race([Promise.all(closed), new Promise((res) => setTimeout(res, 30_000))]);

  const expected = seen.reduce((n, _, sub) => n + emitted[sub % o.runs], 0);
  const delivered = seen.reduce((n, s) => n + s.size, 0);
  return {
    connect_ms: { p50: ms(pct(connectTimes, 50)), p99: ms(pct(connectTimes, 99)) },
    latency_ms: { p50: ms(pct(latencies, 50)), p99: ms(pct(latencies, 99)), max: ms(latencies.reduce((a, b) => Math.max(a, b), 0)) },
    write_ms: writes.length ? { p50: ms(pct(writes, 50)), p99: ms(pct(writes, 99)) } : null,
    delivered, expected, lost: Math.max(0, expected - delivered), duplicated,
    rss_mib: { idle, connected, peak }, cpu_percent: Math.round(cpu * 100), db_commits_per_second: commits,
  };
}

async function waitFor(url: string, child: ChildProcess): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    if (Date.now() - started > 120_000) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
