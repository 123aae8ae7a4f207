import { freePort } from '../../scripts/stack';
import { client, closeDb, newTenant, spawnApi, spawnWorker, startRun, stopProcess, waitFor, waitForStatus } from '../helpers/stack';
import { readSseFrom } from '../helpers/sse';
import { json, targetServer } from '../helpers/target-server';

afterAll(closeDb);

describe('horizontal scale and crashes', () => {
  it('completes a run whose worker is killed mid-attempt once a new worker starts', async () => {
    const queue = `crash-${Date.now()}`;
    const { api } = await newTenant('crash', { taskQueue: queue });
    const target = await targetServer((hit, res) => {
      if (target.hits.length > 1) json(res, 200, { served: target.hits.length });
      // the first request hangs: the worker dies while it is in flight
    });
    const first = spawnWorker(queue, 'crash-worker-a');
    let second: ReturnType<typeof spawnWorker> | null = null;
    try {
      const run = await startRun(api, 'http_request', { url: target.url, timeoutSeconds: 120 });
      await waitFor(async () => target.hits.length, (n) => n >= 1, 60_000, 'the first attempt to reach the target');
      await stopProcess(first, 'SIGKILL');
      second = spawnWorker(queue, 'crash-worker-b');
      const done = await waitForStatus(api, run.id, 'completed', 90_000);
      expect(done.result.body).toEqual({ served: 2 });
      const logs = (await api.get(`/api/v1/action-runs/${run.id}/logs?limit=500`)).body.entries;
      expect(logs.some((e: any) => e.event === 'worker_lost')).toBe(true);
      const workers = new Set(logs.filter((e: any) => e.event === 'attempt_started').map((e: any) => e.workerId));
      expect(workers).toEqual(new Set(['crash-worker-a', 'crash-worker-b']));
    } finally {
      await stopProcess(first, 'SIGKILL');
      if (second) await stopProcess(second);
      await target.close();
    }
  }, 180_000);

  it('runs side by side on several workers and streams through any API process', async () => {
    const queue = `scale-${Date.now()}`;
    const { api, key } = await newTenant('scale', { taskQueue: queue });
    const workers = [spawnWorker(queue, 'scale-worker-a'), spawnWorker(queue, 'scale-worker-b')];
    const port = await freePort();
    const apiB = await spawnApi(port, 'api-b');
    try {
      const runs = await Promise.all(Array.from({ length: 10 }, () => startRun(api, 'conditional_branch', { expression: '1' })));
      for (const run of runs) await waitForStatus(api, run.id, 'completed', 90_000);

      const gate = await startRun(api, 'approval_gate', {});
      await waitForStatus(api, gate.id, 'waiting_approval', 60_000);
      const viaB = readSseFrom(`http://127.0.0.1:${port}`, key, `/api/v1/action-runs/${gate.id}/logs/stream`);
      await new Promise((r) => setTimeout(r, 500));
      // Written through the first API and the worker, announced to the second API by NOTIFY.
      await api.post(`/api/v1/action-runs/${gate.id}/approve`);
      const events = await viaB;
      expect(events[events.length - 1].data.data).toMatchObject({ to: 'completed', terminal: true });
      expect((await client(key, `http://127.0.0.1:${port}`).get(`/api/v1/action-runs/${gate.id}`)).body.status).toBe('completed');
    } finally {
      await Promise.all([...workers.map((w) => stopProcess(w)), stopProcess(apiB)]);
    }
  }, 180_000);
});
