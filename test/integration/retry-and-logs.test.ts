import { closeDb, newTenant, startRun, testStack, waitFor, waitForStatus, type Api } from '../helpers/stack';
import { json, targetServer } from '../helpers/target-server';
import { readSseFrom } from '../helpers/sse';

let api: Api;
let key: string;

beforeAll(async () => {
  ({ api, key } = await newTenant('retry-logs'));
});
afterAll(closeDb);

describe('retry', () => {
  it('retries a failed run in place once its target starts answering', async () => {
    let healthy = false;
    const target = await targetServer((_hit, res) => (healthy ? json(res, 200, { ok: 1 }) : json(res, 503, { down: 1 })));
    try {
      const run = await startRun(api, 'http_request', { url: target.url });
      const failed = await waitForStatus(api, run.id, 'failed');
      expect(failed.error).toMatchObject({ code: 'http_status', status: 503 });
      healthy = true;
      const retried = await api.post(`/api/v1/action-runs/${run.id}/retry`);
      expect(retried.body).toMatchObject({ id: run.id, status: 'queued', retryCount: 1 });
      const done = await waitForStatus(api, run.id, 'completed');
      expect(done).toMatchObject({ retryCount: 1, error: null, result: { status: 200, body: { ok: 1 } } });
      const logs = (await api.get(`/api/v1/action-runs/${run.id}/logs?limit=500`)).body.entries;
      expect(logs.filter((e: any) => e.event === 'attempt_started').map((e: any) => e.attempt)).toEqual([1, 2]);
    } finally {
      await target.close();
    }
  });

  it('retries 5xx automatically by the retry policy, counting retries', async () => {
    let calls = 0;
    const target = await targetServer((_hit, res) => (++calls < 3 ? json(res, 500, {}) : json(res, 200, { calls })));
    try {
      const run = await startRun(api, 'http_request', { url: target.url, retry: { maxAttempts: 3, initialIntervalSeconds: 0.1, backoffCoefficient: 1 } });
      const done = await waitForStatus(api, run.id, 'completed');
      expect(done.retryCount).toBe(2);
      expect(done.result.body).toEqual({ calls: 3 });
    } finally {
      await target.close();
    }
  });

  it('shows "Retrying (n/max)" while an automatic retry runs', async () => {
    let calls = 0;
    const target = await targetServer((_hit, res) => {
      calls++;
      if (calls === 1) return json(res, 503, {});
      setTimeout(() => json(res, 200, { ok: true }), 2000);
    });
    try {
      const run = await startRun(api, 'http_request', { url: target.url, retry: { maxAttempts: 3, initialIntervalSeconds: 0.1 } });
      const retrying = await waitFor(async () => (await api.get(`/api/v1/action-runs/${run.id}`)).body, (r) => r.displayStatus.startsWith('Retrying'), 10_000, 'a retry');
      expect(retrying.displayStatus).toBe('Retrying (2/3)');
      expect(retrying.status).toBe('running');
      await waitForStatus(api, run.id, 'completed');
    } finally {
      await target.close();
    }
  });

  it('does not retry a 4xx other than 429', async () => {
    const target = await targetServer((_hit, res) => json(res, 404, {}));
    try {
      const run = await startRun(api, 'http_request', { url: target.url, retry: { maxAttempts: 3, initialIntervalSeconds: 0.1 } });
      await waitForStatus(api, run.id, 'failed');
      expect(target.hits).toHaveLength(1);
    } finally {
      await target.close();
    }
  });

  it('answers 409 to retry a completed run', async () => {
    const run = await startRun(api, 'conditional_branch', { expression: '1' });
    await waitForStatus(api, run.id, 'completed');
    const res = await api.post(`/api/v1/action-runs/${run.id}/retry`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toBe('cannot retry run in status completed');
  });
});

const readSse = (url: string, headers: Record<string, string> = {}, max = Infinity) => readSseFrom(testStack().apiUrl, key, url, headers, max);

describe('logs', () => {
  it('pages logs with an exclusive cursor', async () => {
    const run = await startRun(api, 'conditional_branch', { expression: '1' });
    await waitForStatus(api, run.id, 'completed');
    const all = (await api.get(`/api/v1/action-runs/${run.id}/logs`)).body;
    expect(all.hasMore).toBe(false);
    expect(all.entries.length).toBeGreaterThanOrEqual(5);
    const first = (await api.get(`/api/v1/action-runs/${run.id}/logs?limit=2`)).body;
    expect(first.entries.map((e: any) => e.id)).toEqual(all.entries.slice(0, 2).map((e: any) => e.id));
    expect(first).toMatchObject({ hasMore: true, nextCursor: all.entries[1].id });
    const second = (await api.get(`/api/v1/action-runs/${run.id}/logs?limit=2&after=${first.nextCursor}`)).body;
    expect(second.entries.map((e: any) => e.id)).toEqual(all.entries.slice(2, 4).map((e: any) => e.id));
    expect((await api.get(`/api/v1/action-runs/${run.id}/logs?after=abc`)).status).toBe(422);
  });

  it('streams history then live entries, closes after the terminal one, and resumes with no gap or duplicate', async () => {
    const run = await startRun(api, 'approval_gate', {});
    await waitForStatus(api, run.id, 'waiting_approval');
    const early = await readSse(`/api/v1/action-runs/${run.id}/logs/stream`, {}, 2);
    expect(early).toHaveLength(2);
    const rest = readSse(`/api/v1/action-runs/${run.id}/logs/stream`, { 'last-event-id': early[1].id });
    await new Promise((r) => setTimeout(r, 300));
    await api.post(`/api/v1/action-runs/${run.id}/approve`);
    const tail = await rest;
    const all = (await api.get(`/api/v1/action-runs/${run.id}/logs?limit=500`)).body.entries;
    expect([...early, ...tail].map((e) => e.id)).toEqual(all.map((e: any) => e.id));
    expect(tail[tail.length - 1]).toMatchObject({ event: 'status', data: { data: { to: 'completed', terminal: true } } });
    const viaAfter = await readSse(`/api/v1/action-runs/${run.id}/logs/stream?after=${all[all.length - 2].id}`);
    expect(viaAfter.map((e) => e.id)).toEqual([all[all.length - 1].id]);
    // Resuming past the end closes at once.
    expect(await readSse(`/api/v1/action-runs/${run.id}/logs/stream?after=${all[all.length - 1].id}`)).toEqual([]);
  });
});
