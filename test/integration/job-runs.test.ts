import { closeDb, client, newTenant, spawnWorker, stopProcess, testStack, waitFor, type Api } from '../helpers/stack';
import { readSseFrom } from '../helpers/sse';
import { jobEndpoint } from '../helpers/job-endpoint';

let api: Api;
let key: string;
let ep: Awaited<ReturnType<typeof jobEndpoint>>;

beforeAll(async () => {
  ({ api, key } = await newTenant('jobs'));
  ep = await jobEndpoint();
});
afterAll(async () => {
  await ep.close();
  await closeDb();
});

let seq = 0;
async function createJob(path: string, extra: Record<string, unknown> = {}, a: Api = api) {
  const res = await a.post('/v1/jobs', {
    name: `job ${path}`, slug: `job-${++seq}-${Date.now()}`, endpoint_url: `${ep.base}${path}`,
    retry_initial_delay_secs: 0.1, retry_max_delay_secs: 0.5, ...extra,
  });
  if (res.status !== 201) throw new Error(`create job: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
async function trigger(jobId: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await api.post(`/v1/jobs/${jobId}/trigger`, body, headers);
  if (res.status !== 201 && res.status !== 200) throw new Error(`trigger: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
const getRun = async (id: string) => (await api.get(`/v1/runs/${id}`)).body;
const waitRun = (id: string, statuses: string | string[], timeoutMs = 30_000) => {
  const want = Array.isArray(statuses) ? statuses : [statuses];
  return waitFor(() => getRun(id), (r) => want.includes(r.status), timeoutMs, `job run ${id} to be ${want}`);
};
const sdk = (runId: string, token: string, path: string, body?: unknown, method = 'POST') =>
  client(null).request(method, `/v1/sdk/runs/${runId}/${path}`, body, { 'x-run-token': token });
const dispatched = (runId: string, n = 1) => waitFor(async () => ep.for(runId), (d) => d.length >= n, 30_000, `dispatch ${n} of ${runId}`);
/** A run of a new job whose endpoint answers 202, once it is executing: its dispatch carries the run token. */
async function executingAsyncRun(path: string, body: Record<string, unknown> = {}) {
  const job = await createJob(path);
  ep.on(path, () => ({ status: 202 }));
  const t = await trigger(job.id, body);
  const [d] = await dispatched(t.id);
  await waitRun(t.id, 'executing');
  return { job, t, d };
}

describe('jobs', () => {
  it('creates, reads, updates, lists and deletes jobs, with validation', async () => {
    const job = await createJob('/ok', { max_attempts: 5, tags: { team: 'data' } });
    expect(job).toMatchObject({ max_attempts: 5, timeout_secs: 300, retry_strategy: 'exponential', version: 1, tags: { team: 'data' } });
    const patched = await api.request('PATCH', `/v1/jobs/${job.id}`, { timeout_secs: 60 });
    expect(patched.body).toMatchObject({ timeout_secs: 60, version: 2, max_attempts: 5, tags: { team: 'data' } });
    expect((await api.get('/v1/jobs')).body.some((j: any) => j.id === job.id)).toBe(true);
    const bad = await api.post('/v1/jobs', { name: 'x', slug: 'Bad Slug', endpoint_url: 'ftp://x', max_attempts: 101 });
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({ error: expect.stringContaining('slug'), request_id: expect.any(String) });
    expect((await api.post('/v1/jobs', { name: 'dup', slug: job.slug, endpoint_url: ep.base })).status).toBe(409);
    expect((await api.delete(`/v1/jobs/${job.id}`)).status).toBe(204);
    expect((await api.get(`/v1/jobs/${job.id}`)).status).toBe(404);
  });

  it('validates the payload against the job schema at trigger', async () => {
    const job = await createJob('/ok', { payload_schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } });
    const bad = await api.post(`/v1/jobs/${job.id}/trigger`, { payload: { n: 'x' } });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toContain('payload');
    expect((await api.post(`/v1/jobs/${job.id}/trigger`, { payload: { n: 1 } })).status).toBe(201);
  });
});

describe('job runs', () => {
  it('dispatches with run headers, records the trace and completes with the response body', async () => {
    const job = await createJob('/echo');
    const t = await trigger(job.id, { payload: { hello: 'world' }, tags: { a: 'b' }, metadata: { env: 'test' } });
    expect(t).toEqual({ id: expect.any(String), status: 'queued', idempotency_hit: false });
    const run = await waitRun(t.id, 'completed');
    expect(run).toMatchObject({ attempt: 1, result: { echoed: { hello: 'world' } }, tags: { a: 'b' }, metadata: { env: 'test' }, triggered_by: 'manual' });
    expect(run.started_at).not.toBeNull();
    expect(run.finished_at).not.toBeNull();
    for (const k of ['queue_wait_ms', 'dequeue_ms', 'connect_ms', 'ttfb_ms', 'transfer_ms', 'dispatch_ms', 'total_ms']) expect(typeof run.execution_trace[k]).toBe('number');
    const [d] = ep.for(t.id);
    expect(d).toMatchObject({ runId: t.id, jobId: job.id, attempt: 1, preset: null });
    expect(d.token).toMatch(/^rt1\./);
  });

  it('takes callbacks during an async (202) run, then completes through complete', async () => {
    const { t, d } = await executingAsyncRun('/async', { payload: { x: 1 } });
    expect((await sdk(t.id, d.token, 'heartbeat', {})).status).toBe(200);
    expect((await sdk(t.id, d.token, 'log', { message: 'hello', level: 'warn' })).status).toBe(201);
    expect((await sdk(t.id, d.token, 'progress', { percent: 50, message: 'half' })).status).toBe(200);
    expect((await sdk(t.id, d.token, 'checkpoint', { state: { page: 2 }, source: 'loop' })).body.sequence).toBe(1);
    expect((await sdk(t.id, d.token, 'output', { output_key: 'n', schema: { type: 'integer' }, value: 'nope' })).status).toBe(422);
    expect((await sdk(t.id, d.token, 'output', { output_key: 'n', schema: { type: 'integer' }, value: 7 })).status).toBe(201);
    expect((await sdk(t.id, d.token, 'usage', { provider: 'openai', model: 'm', prompt_tokens: 10, completion_tokens: 5, cost_microusd: 42 })).status).toBe(201);
    expect((await sdk(t.id, d.token, 'tool-call', { tool_name: 'search', input: { q: 1 }, output: { r: 2 }, duration_ms: 12, status: 'success' })).status).toBe(201);
    expect((await sdk(t.id, d.token, 'state', { key: 'cursor', value: { at: 3 } })).status).toBe(200);
    expect((await sdk(t.id, d.token, 'state/cursor', undefined, 'GET')).body).toMatchObject({ key: 'cursor', value: { at: 3 } });
    expect((await sdk(t.id, d.token, 'state', { key: 'tmp', value: 1 })).status).toBe(200);
    expect((await sdk(t.id, d.token, 'state/tmp', undefined, 'DELETE')).status).toBe(204);
    expect((await sdk(t.id, d.token, 'complete', { result: { done: true } })).status).toBe(200);
    const run = await waitRun(t.id, 'completed');
    expect(run.result).toEqual({ done: true });
    expect(run.heartbeat_at).not.toBeNull();

    const events = (await api.get(`/v1/runs/${t.id}/events?type=log`)).body;
    expect(events).toEqual([expect.objectContaining({ type: 'log', level: 'warn', message: 'hello' })]);
    expect((await api.get(`/v1/runs/${t.id}/events?level=warn`)).body.every((e: any) => e.level === 'warn')).toBe(true);
    expect((await api.get(`/v1/runs/${t.id}/checkpoints`)).body).toEqual([expect.objectContaining({ sequence: 1, source: 'loop', state: { page: 2 } })]);
    expect((await api.get(`/v1/runs/${t.id}/outputs`)).body).toEqual([expect.objectContaining({ output_key: 'n', value: 7 })]);
    expect((await api.get(`/v1/runs/${t.id}/usage`)).body).toEqual([expect.objectContaining({ provider: 'openai', total_tokens: 15 })]);
    expect((await api.get(`/v1/runs/${t.id}/tool-calls`)).body).toEqual([expect.objectContaining({ tool_name: 'search', duration_ms: 12 })]);
    expect((await api.get(`/v1/runs/${t.id}/state`)).body).toEqual([expect.objectContaining({ key: 'cursor', value: { at: 3 } })]);
    const bundle = (await api.get(`/v1/runs/${t.id}/debug-bundle`)).body;
    expect(bundle.run.id).toBe(t.id);
    expect(bundle.checkpoints).toHaveLength(1);
    expect(bundle.history.events.length).toBeGreaterThan(5);
  });

  it('rejects run-token misuse: missing, another run, a stale attempt, a finished run', async () => {
    const job = await createJob('/async2', { max_attempts: 2 });
    ep.on('/async2', (d) => (d.attempt === 1 ? { status: 500 } : { status: 202 }));
    const other = await trigger(job.id);
    const t = await trigger(job.id);
    await dispatched(t.id, 2);
    await waitRun(t.id, 'executing');
    const [first, second] = ep.for(t.id);
    expect((await client(null).post(`/v1/sdk/runs/${t.id}/heartbeat`, {})).status).toBe(401);
    expect((await sdk(t.id, first.token, 'heartbeat', {})).status).toBe(401);
    await dispatched(other.id, 2);
    expect((await sdk(other.id, second.token, 'heartbeat', {})).status).toBe(401);
    expect((await sdk(t.id, second.token, 'complete', { result: 1 })).status).toBe(200);
    await waitRun(t.id, 'completed');
    expect((await sdk(t.id, second.token, 'log', { message: 'late' })).status).toBe(410);
  });

  it('dead-letters after exhausted retries, lists it in the DLQ and replays it in place', async () => {
    let healthy = false;
    const job = await createJob('/flaky', { max_attempts: 2 });
    ep.on('/flaky', () => (healthy ? { status: 200, body: { ok: true } } : { status: 503 }));
    const t = await trigger(job.id);
    const dead = await waitRun(t.id, 'dead_letter');
    expect(dead.attempt).toBe(2);
    expect(dead.error).toContain('503');
    expect(ep.for(t.id).map((d) => d.attempt)).toEqual([1, 2]);
    expect((await api.get('/v1/runs/dlq')).body.some((r: any) => r.id === t.id)).toBe(true);
    healthy = true;
    const replayed = await api.post(`/v1/runs/${t.id}/dlq-replay`);
    expect(replayed.body).toMatchObject({ id: t.id, status: 'queued', attempt: 1 });
    await waitRun(t.id, 'completed');
    expect((await api.post(`/v1/runs/${t.id}/dlq-replay`)).status).toBe(409);
  });

  it('dead-letters a 4xx at once (not retryable)', async () => {
    const job = await createJob('/notfound', { max_attempts: 3 });
    ep.on('/notfound', () => ({ status: 404 }));
    const t = await trigger(job.id);
    await waitRun(t.id, 'dead_letter');
    expect(ep.for(t.id)).toHaveLength(1);
  });

  it('times out when the last attempt times out', async () => {
    const job = await createJob('/hang', { max_attempts: 1, timeout_secs: 1 });
    ep.on('/hang', () => 'hang');
    const t = await trigger(job.id);
    const run = await waitRun(t.id, 'timed_out');
    expect(run.error).toContain('timed out');
  });

  it('fails by an explicit fail call, and replay makes a new run with attempt 1', async () => {
    const { t, d } = await executingAsyncRun('/async-fail', { payload: { p: 1 }, tags: { t: '1' }, priority: 3 });
    await sdk(t.id, d.token, 'fail', { error: 'bad input' });
    const failed = await waitRun(t.id, 'failed');
    expect(failed.error).toBe('bad input');
    const replay = await api.post(`/v1/runs/${t.id}/replay`);
    expect(replay.status).toBe(201);
    expect(replay.body).toMatchObject({ attempt: 0, payload: { p: 1 }, tags: { t: '1' }, priority: 3, triggered_by: 'retry' });
    expect(replay.body.id).not.toBe(t.id);
    await api.delete(`/v1/runs/${replay.body.id}`);
  });

  it('expires a delayed run past its ttl, and reschedules another to run now', async () => {
    const job = await createJob('/ok-later');
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const exp = await trigger(job.id, { scheduled_at: new Date(Date.now() + 5000).toISOString(), ttl_secs: 1 });
    expect(exp.status).toBe('delayed');
    const later = await trigger(job.id, { scheduled_at: future });
    expect((await getRun(later.id)).scheduled_at).toBe(future);
    await waitRun(exp.id, 'expired');
    const moved = await api.post(`/v1/runs/${later.id}/reschedule`, { scheduled_at: new Date().toISOString(), payload: { v: 2 } });
    expect(moved.status).toBe(200);
    const done = await waitRun(later.id, 'completed');
    expect(done.result).toEqual({ echoed: { v: 2 } });
    expect((await api.post(`/v1/runs/${later.id}/reschedule`, { scheduled_at: future })).status).toBe(409);
  });

  it('cancels a run and its spawned child, the parent having waited for it', async () => {
    const parentJob = await createJob('/parent');
    const childJob = await createJob('/child');
    ep.on('/parent', () => ({ status: 202 }));
    ep.on('/child', () => 'hang');
    const t = await trigger(parentJob.id);
    const [d] = await dispatched(t.id);
    await waitRun(t.id, 'executing');
    const spawn = await sdk(t.id, d.token, 'spawn', { job_id: childJob.id, payload: { c: 1 }, await_completion: true });
    expect(spawn.status).toBe(201);
    await waitRun(t.id, 'waiting');
    const children = (await api.get(`/v1/runs/${t.id}/children`)).body;
    expect(children).toEqual([expect.objectContaining({ id: spawn.body.run_id, parent_run_id: t.id, triggered_by: 'spawn' })]);
    expect((await api.delete(`/v1/runs/${t.id}`)).status).toBe(204);
    await waitRun(t.id, 'canceled');
    await waitRun(spawn.body.run_id, 'canceled');
    expect((await api.delete(`/v1/runs/${t.id}`)).status).toBe(409);
  });

  it('returns the parent to executing when an awaited child finishes', async () => {
    const parentJob = await createJob('/parent2');
    const childJob = await createJob('/child2');
    ep.on('/parent2', () => ({ status: 202 }));
    const t = await trigger(parentJob.id);
    const [d] = await dispatched(t.id);
    await waitRun(t.id, 'executing');
    const spawn = await sdk(t.id, d.token, 'spawn', { job_id: childJob.id, await_completion: true });
    await waitRun(spawn.body.run_id, 'completed');
    await waitRun(t.id, 'executing');
    await sdk(t.id, d.token, 'complete', { result: 'parent done' });
    await waitRun(t.id, 'completed');
  });

  it('pauses an executing run (aborting the dispatch), resumes it, and restarts it with a preset', async () => {
    const job = await createJob('/pausable');
    ep.on('/pausable', () => 'hang');
    const t = await trigger(job.id);
    await dispatched(t.id);
    await waitRun(t.id, 'executing');
    const paused = await api.post(`/v1/runs/${t.id}/pause`);
    expect(paused.body.status).toBe('paused');
    expect((await api.post(`/v1/runs/${t.id}/pause`)).status).toBe(409);
    const resumed = await api.post(`/v1/runs/${t.id}/resume`);
    expect(['queued', 'dequeued', 'executing']).toContain(resumed.body.status);
    await dispatched(t.id, 2);
    await waitRun(t.id, 'executing');
    const restarted = await api.post(`/v1/runs/${t.id}/restart`, { machine_preset: 'large-1x' });
    expect(restarted.status).toBe(200);
    const all = await dispatched(t.id, 3);
    expect(all.map((x) => x.attempt)).toEqual([1, 1, 1]);
    expect(all[2].preset).toBe('large-1x');
    await waitRun(t.id, 'executing');
    expect((await api.post(`/v1/runs/${t.id}/pause`)).body.status).toBe('paused');
    await api.post(`/v1/runs/${t.id}/restart`, { machine_preset: 'xl' });
    const again = await dispatched(t.id, 4);
    expect(again[3]).toMatchObject({ attempt: 1, preset: 'xl' });
    await api.delete(`/v1/runs/${t.id}`);
    await waitRun(t.id, 'canceled');
  });

  it('runs the highest priority first when the job concurrency limit is saturated', async () => {
    const job = await createJob('/serial', { max_concurrency: 1 });
    let release: (() => void) | null = null;
    ep.on('/serial', (d) => (d.payload.n === 'first' ? new Promise((r) => { release = () => r({ status: 200, body: {} }); }) : { status: 200, body: {} }));
    const first = await trigger(job.id, { payload: { n: 'first' } });
    await dispatched(first.id);
    const low = await trigger(job.id, { payload: { n: 'low' }, priority: 1 });
    const high = await trigger(job.id, { payload: { n: 'high' }, priority: 9 });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await getRun(low.id)).status).toBe('queued');
    expect((await getRun(high.id)).status).toBe('queued');
    release!();
    await waitRun(low.id, 'completed');
    await waitRun(high.id, 'completed');
    expect(ep.for(high.id)[0].at).toBeLessThan(ep.for(low.id)[0].at);
  });

  it('holds a second run with the same concurrency key in queued', async () => {
    const job = await createJob('/keyed');
    ep.on('/keyed', (d) => (d.payload.n === 1 ? { status: 202 } : { status: 200, body: {} }));
    const a = await trigger(job.id, { payload: { n: 1 }, concurrency_key: 'tenant-7' });
    const [d] = await dispatched(a.id);
    const b = await trigger(job.id, { payload: { n: 2 }, concurrency_key: 'tenant-7' });
    await new Promise((r) => setTimeout(r, 800));
    expect((await getRun(b.id)).status).toBe('queued');
    await sdk(a.id, d.token, 'complete', {});
    await waitRun(b.id, 'completed');
  });

  it('waits for job dependencies and reports their status', async () => {
    const upstream = await createJob('/up');
    const downstream = await createJob('/down');
    const dep = await api.post(`/v1/jobs/${downstream.id}/dependencies`, { depends_on_job_id: upstream.id, condition: 'completed' });
    expect(dep.status).toBe(201);
    expect((await api.post(`/v1/jobs/${upstream.id}/dependencies`, { depends_on_job_id: downstream.id })).status).toBe(422);
    expect((await api.get(`/v1/jobs/${downstream.id}/dependencies`)).body).toHaveLength(1);
    const up = await trigger(upstream.id);
    await waitRun(up.id, 'completed');
    const down = await trigger(downstream.id);
    expect(down.status).toBe('waiting');
    await waitRun(down.id, 'completed');
    const status = (await api.get(`/v1/runs/${down.id}/dependency-status`)).body;
    expect(status).toMatchObject({ run_id: down.id, dependencies_satisfied: true, dependencies: [expect.objectContaining({ id: up.id })] });
    expect((await api.delete(`/v1/jobs/${downstream.id}/dependencies/${upstream.id}`)).status).toBe(204);
  });

  it('creates exactly one run for 100 concurrent triggers with one Idempotency-Key', async () => {
    const job = await createJob('/idem');
    const results = await Promise.all(Array.from({ length: 100 }, () => api.post(`/v1/jobs/${job.id}/trigger`, { payload: {} }, { 'idempotency-key': 'once' })));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200 && r.body.idempotency_hit)).toHaveLength(99);
    const id = results[0].body.id;
    await waitRun(id, 'completed');
    expect((await api.delete(`/v1/runs/${id}/idempotency-key`)).body).toEqual({ status: 'reset', run_id: id });
    const again = await api.post(`/v1/jobs/${job.id}/trigger`, {}, { 'idempotency-key': 'once' });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(id);
  });

  it('continues a run as a new one with lineage', async () => {
    const { t, d } = await executingAsyncRun('/chain', { payload: { step: 1 } });
    const next = await sdk(t.id, d.token, 'continue', { payload: { step: 2 } });
    expect(next.body).toMatchObject({ lineage_depth: 1 });
    await sdk(t.id, d.token, 'complete', {});
    const [d2] = await dispatched(next.body.run_id);
    await waitRun(next.body.run_id, 'executing');
    await sdk(next.body.run_id, d2.token, 'complete', {});
    const lineage = (await api.get(`/v1/runs/${next.body.run_id}/lineage`)).body;
    expect(lineage.map((r: any) => [r.id, r.lineage_depth])).toEqual([[t.id, 0], [next.body.run_id, 1]]);
    expect(lineage[1].continuation_of).toBe(t.id);
  });

  it('records dispatch requests and responses as events in debug mode', async () => {
    const { t, d } = await executingAsyncRun('/dbg');
    expect((await api.post(`/v1/runs/${t.id}/debug`, { debug_mode: true })).status).toBe(204);
    await api.post(`/v1/runs/${t.id}/restart`, {});
    await dispatched(t.id, 2);
    await waitFor(async () => (await api.get(`/v1/runs/${t.id}/events?type=debug.dispatch`)).body, (e) => e.length > 0, 10_000, 'debug event');
    const [ev] = (await api.get(`/v1/runs/${t.id}/events?type=debug.dispatch`)).body;
    expect(ev.data.request.headers['x-run-token']).toBe('[redacted]');
    expect(ev.data.response.status).toBe(202);
    expect((await getRun(t.id)).debug_mode).toBe(true);
    await sdk(t.id, ep.for(t.id)[1].token, 'complete', {});
    void d;
  });
});

describe('bulk and lists', () => {
  it('triggers in bulk, filters, pages with a cursor, and cancels and replays in bulk', async () => {
    const job = await createJob('/bulk');
    ep.on('/bulk', () => 'hang');
    const bulk = await api.post(`/v1/jobs/${job.id}/trigger/bulk`, { items: [1, 2, 3].map((n) => ({ payload: { n, kind: n % 2 ? 'odd' : 'even' }, metadata: { n: String(n) } })) });
    expect(bulk.status).toBe(201);
    expect(bulk.body.count).toBe(3);
    const byBatch = await api.get(`/v1/runs?batch_id=${bulk.body.batch_id}`);
    expect(byBatch.body).toHaveLength(3);
    const paged = await api.get(`/v1/runs?batch_id=${bulk.body.batch_id}&limit=2`);
    expect(paged.body).toHaveLength(2);
    const next = paged.headers.get('x-next-cursor');
    expect(paged.headers.get('link')).toContain('rel="next"');
    const rest = await api.get(`/v1/runs?batch_id=${bulk.body.batch_id}&limit=2&cursor=${encodeURIComponent(next!)}`);
    expect([...paged.body, ...rest.body].map((r: any) => r.id).sort()).toEqual(byBatch.body.map((r: any) => r.id).sort());
    expect(rest.headers.get('x-next-cursor')).toBeNull();
    expect((await api.get(`/v1/runs?batch_id=${bulk.body.batch_id}&payload_contains=${encodeURIComponent('{"kind":"odd"}')}`)).body).toHaveLength(2);
    expect((await api.get('/v1/runs?payload_contains=[1]')).status).toBe(400);
    expect((await api.get(`/v1/runs?batch_id=${bulk.body.batch_id}&metadata_key=n&metadata_value=2`)).body).toHaveLength(1);
    expect((await api.get(`/v1/runs?batch_id=${bulk.body.batch_id}&metadata_key=n`)).body).toHaveLength(3);
    expect((await api.get(`/v1/runs?batch_id=${bulk.body.batch_id}&triggered_by=manual`)).body).toHaveLength(3);
    expect((await api.post('/v1/runs/bulk-cancel-all', {})).status).toBe(400);
    const ids = byBatch.body.map((r: any) => r.id);
    const one = await api.post('/v1/runs/bulk-cancel', { run_ids: [ids[0], '00000000-0000-7000-8000-000000000000'] });
    expect(one.body).toMatchObject({ total: 2, canceled: 1, failed: 1 });
    const all = await api.post('/v1/runs/bulk-cancel-all', { batch_id: bulk.body.batch_id });
    expect(all.body).toMatchObject({ total: 2, canceled: 2, failed: 0 });
    expect((await api.get(`/v1/runs?batch_id=${bulk.body.batch_id}&status=canceled`)).body).toHaveLength(3);
    expect((await api.post('/v1/runs/bulk-dlq-replay', { run_ids: [ids[0]], limit: 3 })).status).toBe(400);
  });

  it('replays runs in bulk and dead-lettered runs by limit', async () => {
    const job = await createJob('/always-500', { max_attempts: 1 });
    ep.on('/always-500', () => ({ status: 500 }));
    const a = await trigger(job.id);
    await waitRun(a.id, 'dead_letter');
    const res = await api.post('/v1/runs/bulk-dlq-replay', { limit: 500 });
    expect(res.body.count).toBeGreaterThanOrEqual(1);
    expect(res.body.replayed.some((r: any) => r.id === a.id)).toBe(true);
    await waitRun(a.id, 'dead_letter');
    const { t: f, d } = await executingAsyncRun('/async-f');
    await sdk(f.id, d.token, 'fail', { error: 'x' });
    await waitRun(f.id, 'failed');
    const replayed = await api.post('/v1/runs/bulk-replay', { run_ids: [f.id, a.id] });
    expect(replayed.body).toHaveLength(1);
    await api.delete(`/v1/runs/${replayed.body[0].id}`);
  });

  it('streams status changes and events, resumable, closing at the end', async () => {
    const { t, d } = await executingAsyncRun('/streamed');
    const base = testStack().apiUrl;
    const chunks = readSseFrom(base, key, `/v1/runs/${t.id}/stream/chunks`);
    await new Promise((r) => setTimeout(r, 300));
    await sdk(t.id, d.token, 'stream', { chunk: 'Hel' });
    await sdk(t.id, d.token, 'stream', { chunk: 'lo', done: true });
    await sdk(t.id, d.token, 'complete', { result: 'Hello' });
    const got = await chunks;
    expect(got.filter((e) => e.event === 'chunk').map((e) => e.data.data.chunk)).toEqual(['Hel', 'lo']);
    const all = await readSseFrom(base, key, `/v1/runs/${t.id}/stream`);
    expect(all[all.length - 1]).toMatchObject({ event: 'status', data: { data: { to: 'completed', terminal: true } } });
    const resumed = await readSseFrom(base, key, `/v1/runs/${t.id}/stream`, { 'last-event-id': all[1].id });
    expect(resumed.map((e) => e.id)).toEqual(all.slice(2).map((e) => e.id));
  });

  it('sends every event once and in order to each of many subscribers of a run', async () => {
    const { t, d } = await executingAsyncRun('/fanned');
    const streams = Array.from({ length: 25 }, () => readSseFrom(testStack().apiUrl, key, `/v1/runs/${t.id}/stream`));
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all(Array.from({ length: 20 }, (_, i) => sdk(t.id, d.token, 'log', { message: `line ${i}` })));
    await sdk(t.id, d.token, 'complete', { result: 'done' });
    const got = await Promise.all(streams);
    const ids = got[0].map((e) => e.id);
    expect(got[0].filter((e) => e.event === 'log')).toHaveLength(20);
    expect(ids).toEqual([...ids].sort((a, b) => Number(a) - Number(b)));
    for (const events of got) expect(events.map((e) => e.id)).toEqual(ids);
  });

  it('answers 404 for another project\'s runs and jobs, and for a foreign project_id', async () => {
    const { api: other } = await newTenant('jobs-other');
    const job = await createJob('/ok');
    const t = await trigger(job.id);
    for (const path of [`/v1/runs/${t.id}`, `/v1/runs/${t.id}/events`, `/v1/jobs/${job.id}`, `/v1/runs/${t.id}/debug-bundle`]) {
      expect([path, (await other.get(path)).status]).toEqual([path, 404]);
    }
    expect((await other.post(`/v1/jobs/${job.id}/trigger`, {})).status).toBe(404);
    expect((await other.request('DELETE', `/v1/runs/${t.id}`)).status).toBe(404);
    expect((await api.get('/v1/runs?project_id=00000000-0000-7000-8000-000000000000')).status).toBe(404);
    expect((await api.get('/v1/runs/not-a-uuid')).status).toBe(404);
    expect((await api.get('/v1/runs/not-a-uuid')).body).toEqual({ error: 'not found', request_id: expect.any(String) });
  });
});

describe('crashes', () => {
  it('ends crashed when the worker is lost with no attempts left', async () => {
    const queue = `job-crash-${Date.now()}`;
    const { api: crashApi } = await newTenant('job-crash', { taskQueue: queue });
    const res = await crashApi.post('/v1/jobs', { name: 'c', slug: 'c', endpoint_url: `${ep.base}/crash`, max_attempts: 1, timeout_secs: 120 });
    ep.on('/crash', () => 'hang');
    const worker = spawnWorker(queue, 'job-crash-worker-a');
    let second: ReturnType<typeof spawnWorker> | null = null;
    try {
      const t = (await crashApi.post(`/v1/jobs/${res.body.id}/trigger`, {})).body;
      await waitFor(async () => ep.for(t.id), (d) => d.length >= 1, 60_000, 'dispatch');
      await stopProcess(worker, 'SIGKILL');
      second = spawnWorker(queue, 'job-crash-worker-b');
      const run = await waitFor(async () => (await crashApi.get(`/v1/runs/${t.id}`)).body, (r) => r.status === 'crashed', 90_000, 'crashed');
      expect(run.error).toContain('worker lost');
    } finally {
      await stopProcess(worker, 'SIGKILL');
      if (second) await stopProcess(second);
    }
  }, 180_000);
});
