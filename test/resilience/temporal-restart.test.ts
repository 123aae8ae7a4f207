import fs from 'node:fs';
import path from 'node:path';
import { freePort, startTemporalDevServer } from '../../scripts/stack';
import { jobEndpoint } from '../helpers/job-endpoint';
import { initOrm } from '../../db/orm';
import { expectEachAttemptOnce, scale, settledJobRuns, triggerBurst, type Query } from '../helpers/resilience';
import { client, closeDb, spawnApi, spawnWorker, sql, stopProcess, testStack, waitFor } from '../helpers/stack';

/**
 * A Temporal dev server of this test's own, with a database of its own in the shared Postgres (one
 * Temporal per database, as deployed: another cluster's reconciler would take these runs for lost), an API and a worker
 * is stopped with runs in flight and started again on the same database file. Acknowledged: triggers
 * answered 2xx, before and after the outage. Checked: during the outage triggers answer 503 within
 * 10 s (never 500); afterwards every acknowledged run completes and no attempt reached the endpoint twice.
 */
const RUNS = scale(300, 100);
const OUTAGE_MS = scale(15_000, 5_000);

afterAll(closeDb);

it(`continues ${RUNS} in-flight runs after the Temporal server is stopped for ${OUTAGE_MS / 1000} s and restarted`, async () => {
  const dir = fs.mkdtempSync(path.join(testStack().dataDir, 'temporal-restart-'));
  const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const devServer = () => startTemporalDevServer({ dataDir: dir, port, uiPort, namespace: testStack().namespace, log: () => undefined });
  let temporal = await devServer();
  const dbName = `restart_${Date.now()}`;
  await sql(`create database ${dbName}`);
  const databaseUrl = Object.assign(new URL(testStack().databaseUrl), { pathname: `/${dbName}` }).toString();
  const key = `tw_restart_${Date.now()}`;
  const env = { TEMPORAL_ADDRESS: temporal.address, DATABASE_URL: databaseUrl, TIDEWAY_SKIP_MIGRATIONS: '', BOOTSTRAP_API_KEY: key };
  const api = await spawnApi(apiPort, 'restart-api', env);
  const worker = spawnWorker(testStack().taskQueue, 'restart-worker', env);
  const orm = await initOrm({ databaseUrl, poolMax: 2 });
  const query: Query = async (text, bindings = []) => (await orm.em.getConnection().getKnex().raw(text, bindings as never)).rows;
  const http = client(key, `http://127.0.0.1:${apiPort}`);
  const ep = await jobEndpoint();
  try {
    ep.on('/slow', () => new Promise((r) => setTimeout(() => r({ status: 200, body: {} }), 200)));
    const job = (await http.post('/v1/jobs', { name: 'restart', slug: 'restart', endpoint_url: `${ep.base}/slow`, max_attempts: 5, retry_initial_delay_secs: 0.2 })).body;
    const before = await triggerBurst(() => http, job.id, RUNS, 10);
    expect(before.acknowledged).toHaveLength(RUNS);
    await waitFor(async () => ep.dispatches.length, (n) => n >= 10, 60_000, 'runs in flight');

    await temporal.proc.stop();
    const outageStarted = Date.now();
    const during = await triggerBurst(() => http, job.id, 4, 4);
    expect(during.statuses).toEqual({ 503: 4 }); // after TEMPORAL_REQUEST_TIMEOUT_MS (10 s), not a hang
    expect(Date.now() - outageStarted).toBeLessThan(12_500);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted))));
    temporal = await devServer();

    const after = await triggerBurst(() => http, job.id, 20, 5);
    expect(after.acknowledged).toHaveLength(20);
    expect(await settledJobRuns(job.id, RUNS + 20, 300_000, query)).toEqual({ completed: RUNS + 20 });
    await expectEachAttemptOnce(ep, job.id, query);
  } finally {
    await Promise.all([stopProcess(worker), stopProcess(api)]);
    await temporal.proc.stop();
    await orm.close();
    await sql(`drop database ${dbName} with (force)`);
    await ep.close();
  }
}, 600_000);
