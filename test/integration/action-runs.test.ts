import { client, closeDb, newTenant, sql, startRun, testStack, waitForStatus, type Api } from '../helpers/stack';
import { json, targetServer } from '../helpers/target-server';

let api: Api;
let target: Awaited<ReturnType<typeof targetServer>>;

beforeAll(async () => {
  ({ api } = await newTenant('action-runs'));
  target = await targetServer((hit, res) => {
    if (hit.url.startsWith('/teapot')) return json(res, 418, { teapot: true });
    if (hit.url.startsWith('/page')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html><head><title>Hello &amp; welcome</title><script>x()</script></head><body><h1>Title</h1><p>First para.</p></body></html>');
    }
    json(res, 200, { ok: true, method: hit.method, url: hit.url, body: hit.body ? JSON.parse(hit.body) : null, header: hit.headers['x-test'] ?? null });
  });
});
afterAll(async () => {
  await target.close();
  await closeDb();
});

describe('create and execute', () => {
  it('creates a run in pending that does not start until executed', async () => {
    const res = await api.post('/api/v1/action-runs', { kind: 'http_request', definition: { url: `${target.url}/x` } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'pending', kind: 'http_request', retryCount: 0, interruptCount: 0, startedAt: null, completedAt: null, displayStatus: 'Pending' });
    expect(res.body.definition).toMatchObject({ url: `${target.url}/x`, method: 'GET', timeoutSeconds: 30 });
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const again = await api.get(`/api/v1/action-runs/${res.body.id}`);
    expect(again.body.status).toBe('pending');
  });

  it('runs an http_request to completion with status, headers and parsed JSON body', async () => {
    const run = await startRun(api, 'http_request', {
      url: `${target.url}/echo`, method: 'POST', headers: { 'x-test': 'yes' }, query: { a: 1 }, body: { hello: 'world' },
    });
    expect(run.status).toBe('queued');
    const done = await waitForStatus(api, run.id, 'completed');
    expect(done.result.status).toBe(200);
    expect(done.result.headers['content-type']).toContain('application/json');
    expect(done.result.body).toEqual({ ok: true, method: 'POST', url: '/echo?a=1', body: { hello: 'world' }, header: 'yes' });
    expect(done.startedAt).not.toBeNull();
    expect(done.completedAt).not.toBeNull();
    expect(done.durationSeconds).toBeGreaterThanOrEqual(0);
  });

  it('fails a run whose target answers a status outside 2xx and allowedStatuses, with the reason in the logs', async () => {
    const run = await startRun(api, 'http_request', { url: `${target.url}/teapot` });
    const done = await waitForStatus(api, run.id, 'failed');
    expect(done.error).toMatchObject({ code: 'http_status', status: 418 });
    const logs = await api.get(`/api/v1/action-runs/${run.id}/logs?limit=500`);
    const failed = logs.body.entries.find((e: any) => e.event === 'attempt_failed');
    expect(failed).toMatchObject({ level: 'error', attempt: 1 });
    expect(failed.message).toContain('HTTP 418');
    expect(failed.workerId).toBeTruthy();
  });

  it('accepts a status listed in allowedStatuses', async () => {
    const run = await startRun(api, 'http_request', { url: `${target.url}/teapot`, allowedStatuses: [418] });
    const done = await waitForStatus(api, run.id, 'completed');
    expect(done.result).toMatchObject({ status: 418, body: { teapot: true } });
  });

  it('fetches a page and reduces its HTML to readable text (also through the legacy alias)', async () => {
    for (const kind of ['fetch_page', 'agent_fetch_page']) {
      const run = await startRun(api, kind, { url: `${target.url}/page` });
      const done = await waitForStatus(api, run.id, 'completed');
      expect(done.kind).toBe(kind);
      expect(done.result).toMatchObject({ finalUrl: `${target.url}/page`, status: 200, title: 'Hello & welcome' });
      expect(done.result.contentType).toContain('text/html');
      expect(done.result.text).toBe('Title\nFirst para.');
    }
  });

  it('evaluates a conditional branch with a sandboxed expression', async () => {
    const yes = await startRun(api, 'conditional_branch', { expression: '$sum(items.price) > 10', input: { items: [{ price: 6 }, { price: 7 }] } });
    const no = await startRun(api, 'conditional_branch', { expression: 'flag = true', input: { flag: false } });
    expect((await waitForStatus(api, yes.id, 'completed')).result).toEqual({ value: true, branch: 'true' });
    expect((await waitForStatus(api, no.id, 'completed')).result).toEqual({ value: false, branch: 'false' });
  });

  it('returns the existing run with 200 for a repeated idempotency key', async () => {
    const body = { kind: 'http_request', definition: { url: `${target.url}/idem` }, idempotencyKey: 'same-key' };
    const first = await api.post('/api/v1/action-runs', body);
    const second = await api.post('/api/v1/action-runs', body);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const otherKind = await api.post('/api/v1/action-runs', { kind: 'fetch_page', definition: { url: `${target.url}/idem` }, idempotencyKey: 'same-key' });
    expect(otherKind.status).toBe(201);
    expect(otherKind.body.id).not.toBe(first.body.id);
  });

  it('answers 409 naming the status when executing a run that is not pending', async () => {
    const run = await startRun(api, 'conditional_branch', { expression: '1' });
    await waitForStatus(api, run.id, 'completed');
    const res = await api.post(`/api/v1/action-runs/${run.id}/execute`);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ detail: 'cannot execute run in status completed' });
  });
});

describe('validation', () => {
  it('rejects an unknown kind, a missing kind and unknown fields with 422 and their loc', async () => {
    const bad = await api.post('/api/v1/action-runs', { kind: 'nope', extra: 1 });
    expect(bad.status).toBe(422);
    const locs = bad.body.detail.map((d: any) => d.loc.join('.'));
    expect(locs).toEqual(expect.arrayContaining(['body.kind', 'body.extra']));
    expect(bad.body.detail.find((d: any) => d.loc[1] === 'extra').type).toBe('extra_forbidden');
    const missing = await api.post('/api/v1/action-runs', {});
    expect(missing.status).toBe(422);
    expect(missing.body.detail[0]).toMatchObject({ loc: ['body', 'kind'], type: 'missing' });
  });

  it('validates the definition against the kind, naming the field under body.definition', async () => {
    const res = await api.post('/api/v1/action-runs', { kind: 'http_request', definition: { url: 'not a url', timeoutSeconds: 601, retry: { maxAttempts: 11 } } });
    expect(res.status).toBe(422);
    const locs = res.body.detail.map((d: any) => d.loc.join('.'));
    expect(locs).toEqual(expect.arrayContaining(['body.definition.url', 'body.definition.timeoutSeconds', 'body.definition.retry.maxAttempts']));
    const expr = await api.post('/api/v1/action-runs', { kind: 'conditional_branch', definition: { expression: '(((' } });
    expect(expr.status).toBe(422);
    expect(expr.body.detail[0].loc).toEqual(['body', 'definition', 'expression']);
  });

  it('says a kind without an executor is not available yet', async () => {
    const res = await api.post('/api/v1/action-runs', { kind: 'dlt_extract', definition: {} });
    expect(res.status).toBe(422);
    expect(res.body.detail[0]).toMatchObject({ loc: ['body', 'kind'] });
    expect(res.body.detail[0].msg).toContain('not available yet');
  });

  it('rejects a malformed uuid in the path and bad query values with 422', async () => {
    const path = await api.get('/api/v1/action-runs/not-a-uuid');
    expect(path.status).toBe(422);
    expect(path.body.detail[0]).toMatchObject({ loc: ['path', 'run_id'], type: 'uuid_parsing' });
    const q = await api.get('/api/v1/action-runs?limit=101&status=bogus');
    expect(q.status).toBe(422);
    expect(q.body.detail.map((d: any) => d.loc.join('.')).sort()).toEqual(['query.limit', 'query.status']);
  });

  it('rejects malformed JSON with 422 and a body over 1 MiB with 413', async () => {
    const bad = await api.request('POST', '/api/v1/action-runs', '{"kind":', { 'content-type': 'application/json' });
    expect(bad.status).toBe(422);
    expect(bad.body.detail[0].type).toBe('json_invalid');
    const huge = await api.post('/api/v1/action-runs', { kind: 'http_request', definition: { url: 'http://x', body: 'x'.repeat(1024 * 1024 + 10) } });
    expect(huge.status).toBe(413);
  });
});

describe('auth and isolation', () => {
  it('answers 401 without a key or with an invalid one, and accepts X-API-Key and the vai_token cookie', async () => {
    expect((await client(null).get('/api/v1/action-runs')).status).toBe(401);
    expect((await client('tw_wrong').get('/api/v1/action-runs')).status).toBe(401);
    const key = testStack().apiKey;
    expect((await client(null).get('/api/v1/action-runs', { 'x-api-key': key })).status).toBe(200);
    expect((await client(null).get('/api/v1/action-runs', { cookie: `vai_token=${key}` })).status).toBe(200);
    // The first credential present wins: an invalid bearer does not fall through to a valid header.
    expect((await client('tw_wrong').get('/api/v1/action-runs', { 'x-api-key': key })).status).toBe(401);
  });

  it('answers 404 for every verb on another organization\'s run and changes nothing', async () => {
    const { api: other } = await newTenant('other-org');
    const created = await api.post('/api/v1/action-runs', { kind: 'approval_gate', definition: {} });
    const id = created.body.id;
    for (const [method, path] of [
      ['GET', ''], ['POST', '/execute'], ['POST', '/approve'], ['POST', '/reject'], ['POST', '/cancel'],
      ['POST', '/pause'], ['POST', '/resume'], ['POST', '/retry'], ['GET', '/logs'], ['GET', '/logs/stream'], ['DELETE', ''],
    ]) {
      const res = await other.request(method, `/api/v1/action-runs/${id}${path}`);
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    expect((await other.get('/api/v1/action-runs')).body.total).toBe(0);
    expect((await api.get(`/api/v1/action-runs/${id}`)).body.status).toBe('pending');
  });
});

describe('list', () => {
  it('filters by kind, status and parent, pages with offset, and maps users', async () => {
    const { api: mine, tenant } = await newTenant('list');
    const parent = await mine.post('/api/v1/action-runs', { kind: 'approval_gate', definition: {} });
    for (let i = 0; i < 3; i++) {
      await mine.post('/api/v1/action-runs', { kind: 'conditional_branch', definition: { expression: 'true' }, parentActionRunId: parent.body.id });
    }
    const all = await mine.get('/api/v1/action-runs');
    expect(all.body).toMatchObject({ total: 4, limit: 100, offset: 0, hasNext: false });
    expect(all.body.users[tenant.userId]).toMatchObject({ id: tenant.userId, firstName: 'Admin' });
    const page = await mine.get('/api/v1/action-runs?limit=2&offset=1');
    expect(page.body).toMatchObject({ total: 4, limit: 2, offset: 1, hasNext: true });
    expect(page.body.runs).toHaveLength(2);
    expect(page.body.runs[0].id).toBe(all.body.runs[1].id);
    expect((await mine.get('/api/v1/action-runs?kind=conditional_branch')).body.total).toBe(3);
    expect((await mine.get(`/api/v1/action-runs?parent_action_run_id=${parent.body.id}`)).body.total).toBe(3);
    expect((await mine.get('/api/v1/action-runs?status=pending&kind=approval_gate')).body.total).toBe(1);
    expect((await mine.get('/api/v1/action-runs?status=completed')).body.total).toBe(0);
  });

  it('estimates the total past 10,000 runs, keeping hasNext exact to the last page', async () => {
    const { api: many, tenant } = await newTenant('list-many');
    await sql(`insert into runs (id, root_id, kind, executor, organization_id, project_id, status, created_at)
      select id, id, 'action', 'http_request', ?, ?, 'completed', now() - i * interval '1 second'
      from (select gen_random_uuid() as id, i from generate_series(1, 10050) i) g`, [tenant.organizationId, tenant.projectId]);
    const first = await many.get('/api/v1/action-runs');
    expect(first.body).toMatchObject({ total: expect.any(Number), hasNext: true });
    expect(first.body.total).toBeGreaterThan(10_000);
    const last = await many.get('/api/v1/action-runs?offset=10000');
    expect(last.body).toMatchObject({ total: 10_050, hasNext: false });
    expect(last.body.runs).toHaveLength(50);
    const past = await many.get('/api/v1/action-runs?offset=20000');
    expect(past.body).toMatchObject({ runs: [], hasNext: false });
  });
});

describe('delete', () => {
  it('deletes only terminal runs, with their logs', async () => {
    const pending = await api.post('/api/v1/action-runs', { kind: 'conditional_branch', definition: { expression: '1' } });
    expect((await api.delete(`/api/v1/action-runs/${pending.body.id}`)).status).toBe(409);
    const run = await startRun(api, 'conditional_branch', { expression: '1' });
    await waitForStatus(api, run.id, 'completed');
    const del = await api.delete(`/api/v1/action-runs/${run.id}`);
    expect(del.status).toBe(204);
    expect((await api.get(`/api/v1/action-runs/${run.id}`)).status).toBe(404);
    expect((await api.get(`/api/v1/action-runs/${run.id}/logs`)).status).toBe(404);
  });
});
