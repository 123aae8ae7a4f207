import { jobEndpoint } from '../helpers/job-endpoint';
import { expectEachAttemptOnce, scale, settledJobRuns } from '../helpers/resilience';
import { closeDb, newTenant, spawnWorker, stopProcess, waitFor } from '../helpers/stack';

/** Acknowledged: a bulk trigger answered 201. Checked: every run completes, no attempt reaches the endpoint twice. */
const RUNS = scale(500, 100);

afterAll(closeDb);

it(`completes all ${RUNS} in-flight job runs when the only worker is killed (-9) and a new one starts`, async () => {
  const queue = `only-worker-${Date.now()}`;
  const { api } = await newTenant('only-worker', { taskQueue: queue });
  const ep = await jobEndpoint();
  let worker = spawnWorker(queue, 'only-worker-a');
  try {
    ep.on('/slow', () => new Promise((r) => setTimeout(() => r({ status: 200, body: {} }), 300)));
    const job = (await api.post('/v1/jobs', { name: 'only', slug: 'only', endpoint_url: `${ep.base}/slow`, max_attempts: 5, retry_initial_delay_secs: 0.2 })).body;
    const ids: string[] = [];
    for (let i = 0; i < RUNS; i += 100) {
      const bulk = await api.post(`/v1/jobs/${job.id}/trigger/bulk`, { items: Array.from({ length: Math.min(100, RUNS - i) }, (_, j) => ({ payload: { i: i + j } })) });
      expect(bulk.status).toBe(201);
      ids.push(...bulk.body.runs.map((r: { id: string }) => r.id));
    }
    expect(ids).toHaveLength(RUNS);
    await waitFor(async () => ep.dispatches.length, (n) => n >= 20, 60_000, 'runs in flight');
    await stopProcess(worker, 'SIGKILL');
    worker = spawnWorker(queue, 'only-worker-b');
    expect(await settledJobRuns(job.id, RUNS, 600_000)).toEqual({ completed: RUNS });
    await expectEachAttemptOnce(ep, job.id);
  } finally {
    await stopProcess(worker);
    await ep.close();
  }
}, 720_000);
