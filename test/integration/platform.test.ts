import { client, testStack } from '../helpers/stack';

describe('platform endpoints', () => {
  const anon = client(null);

  it('reports health and readiness without a key', async () => {
    expect((await anon.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await anon.get('/readyz')).body).toMatchObject({ status: 'ready', postgres: 'ok', temporal: 'ok' });
  });

  it('exposes Prometheus metrics by route and status', async () => {
    await client().get('/api/v1/action-runs');
    const res = await fetch(`${testStack().apiUrl}/metrics`);
    const text = await res.text();
    expect(text).toContain('tideway_http_requests_total{method="GET",route="/api/v1/action-runs",status="200"}');
    expect(text).toContain('tideway_http_request_duration_seconds_bucket');
  });

  it('echoes a given request id and makes one otherwise', async () => {
    const given = await anon.get('/healthz', { 'x-request-id': 'abc-123' });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    expect((await anon.get('/healthz')).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves an OpenAPI 3.1 document describing every action-runs endpoint, and a docs page', async () => {
    const doc = (await anon.get('/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([p, methods]: [string, any]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`));
    expect(ops).toEqual(expect.arrayContaining([
      'GET /api/v1/action-runs', 'POST /api/v1/action-runs', 'GET /api/v1/action-runs/{run_id}', 'DELETE /api/v1/action-runs/{run_id}',
      'POST /api/v1/action-runs/{run_id}/approve', 'POST /api/v1/action-runs/{run_id}/cancel', 'POST /api/v1/action-runs/{run_id}/execute',
      'GET /api/v1/action-runs/{run_id}/logs', 'GET /api/v1/action-runs/{run_id}/logs/stream', 'POST /api/v1/action-runs/{run_id}/pause',
      'POST /api/v1/action-runs/{run_id}/reject', 'POST /api/v1/action-runs/{run_id}/resume', 'POST /api/v1/action-runs/{run_id}/retry',
    ]));
    const create = doc.paths['/api/v1/action-runs'].post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['kind']);
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['200', '201', '401', '413', '422']));
    const docs = await fetch(`${testStack().apiUrl}/docs`);
    expect(docs.headers.get('content-type')).toContain('text/html');
  });

  it('answers unknown paths with 404 in the surface dialect', async () => {
    const res = await client().get('/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: 'Not Found' });
  });
});

describe('API keys', () => {
  it('creates a working key with npm run key:create, for another organization', async () => {
    const { execFileSync } = await import('node:child_process');
    const path = await import('node:path');
    const org = `cli-${Date.now()}`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/key-create.ts', '--org', org], {
      cwd: path.resolve(__dirname, '../..'), env: { ...process.env, DATABASE_URL: testStack().databaseUrl },
    }).toString().trim();
    expect(out).toMatch(/^tw_[\w-]{20,}$/);
    const res = await client(out).get('/api/v1/action-runs');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(0);
  });

  it('honours the BOOTSTRAP_API_KEY the stack was started with', async () => {
    expect((await client(testStack().apiKey).get('/api/v1/action-runs')).status).toBe(200);
  });
});
