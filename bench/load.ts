import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { connectClient } from '../core/temporal';
import { initOrm } from '../db/orm';
import { createApiKey, ensureTenant } from '../db/tenancy';
import { stack } from './lib';

/** Load generation shared by the trigger and throughput benchmarks: endpoint, clients, tenants, baseline. */

/** A no-op job endpoint: answers 200 at once and notes when it first saw each run (X-Run-Id, or `id` in the body). */
export async function noopEndpoint() {
  const firstSeen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const at = Date.now();
      let id = req.headers['x-run-id'] as string | undefined;
      if (!id) try { id = JSON.parse(raw)?.id; } catch { /* not JSON */ }
      if (id && !firstSeen.has(id)) firstSeen.set(id, at);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/noop`, firstSeen, close: () => new Promise((r) => server.close(r)) };
}

export interface Driven {
  ids: string[];
  /** When each run's trigger request was sent (epoch ms), by run id. */
  sentAt: Map<string, number>;
  /** Latency of each trigger call, ms. */
  latency: number[];
  errors: number;
  elapsedMs: number;
}

/**
 * `clients` closed-loop clients call `trigger` until `total` calls are made or `durationMs` passes;
 * `trigger` returns the id of what it started.
 */
export async function drive(opts: { clients: number; total?: number; durationMs?: number }, trigger: (i: number) => Promise<string>): Promise<Driven> {
  const out: Driven = { ids: [], sentAt: new Map(), latency: [], errors: 0, elapsedMs: 0 };
  const t0 = Date.now();
  let next = 0;
  const more = () => (opts.total === undefined || next < opts.total) && (opts.durationMs === undefined || Date.now() - t0 < opts.durationMs);
  await Promise.all(Array.from({ length: opts.clients }, async () => {
    while (more()) {
      const i = next++;
      const sent = Date.now();
      const s = performance.now();
      try {
        const id = await trigger(i);
        out.latency.push(performance.now() - s);
        out.ids.push(id);
        out.sentAt.set(id, sent);
      } catch (err) {
        if (++out.errors <= 3) console.error(String(err));
      }
    }
  }));
  out.elapsedMs = Date.now() - t0;
  return out;
}

/** An organization of the benchmark's own whose runs go to `taskQueue` (say, one no worker polls). */
export async function benchTenant(name: string, taskQueue?: string): Promise<string> {
  const orm = await initOrm({ databaseUrl: stack().databaseUrl, poolMax: 1 });
  try {
    const knex = orm.em.getConnection().getKnex();
    const tenant = await ensureTenant(knex, { organizationName: `${name}-${Date.now()}`, taskQueue });
    return await createApiKey(knex, tenant, { name });
  } finally {
    await orm.close();
  }
}

export async function temporalClient(): Promise<Client> {
  return connectClient(stack().temporalAddress, stack().namespace ?? 'default');
}

/** A bare Temporal worker process (bench/baseline/worker.ts) polling `taskQueue`, like Tideway's worker is one process. */
export async function startBaselineWorker(taskQueue: string): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'baseline', 'worker.ts'), taskQueue], {
    env: { ...process.env, TEMPORAL_ADDRESS: stack().temporalAddress, TEMPORAL_NAMESPACE: stack().namespace ?? 'default' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { if (String(c).includes('polling')) resolve(); });
    child.once('exit', (code) => reject(new Error(`baseline worker exited with ${code}`)));
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Postgres, for reading run rows as the benchmark's clock. */
export async function pg(): Promise<PgClient> {
  const client = new PgClient({ connectionString: stack().databaseUrl });
  await client.connect();
  return client;
}

/** Waits until every run in `ids` is terminal; returns completed_at (epoch ms) and status by id. */
export async function settledRuns(db: PgClient, ids: string[], timeoutMs = 30 * 60_000): Promise<Map<string, { status: string; completedAt: number }>> {
  const started = Date.now();
  for (;;) {
    const { rows } = await db.query(`select count(*)::int as open from runs where id = any($1::uuid[]) and completed_at is null`, [ids]);
    if (rows[0].open === 0) break;
    if (Date.now() - started > timeoutMs) throw new Error(`${rows[0].open} runs still open after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const { rows } = await db.query(`select id, status, extract(epoch from completed_at) * 1000 as at from runs where id = any($1::uuid[])`, [ids]);
  return new Map(rows.map((r) => [r.id as string, { status: r.status as string, completedAt: Number(r.at) }]));
}
