import { freePort } from '../../scripts/stack';
import { client, closeDb, newTenant, spawnApi, spawnWorker, stopProcess } from '../helpers/stack';
import { expectEachAttemptOnce, settledJobRuns } from '../helpers/resilience';
import { jobEndpoint } from '../helpers/job-endpoint';

/**
 * The production topology with processes: two API processes and three workers on one Postgres and
 * one Temporal. Runs are spread over both APIs; one worker and one API are killed in the middle.
 * Every acknowledged run completes, and each recorded attempt reached the endpoint once.
 */
const RUNS = Number(process.env.TOPOLOGY_RUNS ?? 300);

afterAll(closeDb);

it(`completes all ${RUNS} acknowledged runs with a worker and an API killed mid-way`, async () => {
  const queue = `topology-${Date.now()}`;
  const { key } = await newTenant('topology', { taskQueue: queue });
  const ep = await jobEndpoint();
  const workers = [spawnWorker(queue, 'topo-worker-1'), spawnWorker(queue, 'topo-worker-2'), spawnWorker(queue, 'topo-worker-3')];
  const ports = [await freePort(), await freePort()];
  const apis = await Promise.all(ports.map((p, i) => spawnApi(p, `topo-api-${i + 1}`)));
  const clients = ports.map((p) => client(key, `http://127.0.0.1:${p}`));
  try {
    ep.on('/work', () => new Promise((r) => setTimeout(() => r({ status: 200, body: { ok: true } }), 20)));
    const job = (await clients[0].post('/v1/jobs', { name: 'topology', slug: 'topology', endpoint_url: `${ep.base}/work`, max_attempts: 5, retry_initial_delay_secs: 0.2 })).body;
    const acknowledged: string[] = [];
    let next = 0;
    let apiDown = false;
    await Promise.all(Array.from({ length: 10 }, async (_, worker) => {
      while (next < RUNS) {
        const i = next++;
        if (i === Math.floor(RUNS / 3)) {
          await stopProcess(workers[0], 'SIGKILL');
          await stopProcess(apis[1], 'SIGKILL');
          apiDown = true;
        }
        // A careful client retries on another API when one is unreachable, with an Idempotency-Key so
        // that a trigger committed just before its API died is not made twice; a 2xx acknowledges.
        for (let tries = 0; tries < 10; tries++) {
          if (tries > 0) await new Promise((r) => setTimeout(r, 100 * tries));
          const target = apiDown ? clients[0] : clients[(i + worker + tries) % 2];
          const res = await target.post(`/v1/jobs/${job.id}/trigger`, { payload: { i } }, { 'idempotency-key': `topology-${i}` }).catch(() => null);
          if (res && (res.status === 201 || res.status === 200)) {
            acknowledged.push(res.body.id);
            break;
          }
        }
      }
    }));
    expect(new Set(acknowledged).size).toBe(RUNS);
    expect(await settledJobRuns(job.id, RUNS, 240_000)).toEqual({ completed: RUNS });
    await expectEachAttemptOnce(ep, job.id);
  } finally {
    await Promise.all([...workers, ...apis].map((p) => stopProcess(p)));
    await ep.close();
  }
}, 420_000);

