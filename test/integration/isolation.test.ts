import { closeDb, client, newTenant, secondProject, sql, testStack, waitFor, type Api } from '../helpers/stack';
import { jobEndpoint, type Dispatch } from '../helpers/job-endpoint';

/**
 * Tenant isolation, table-driven over the OpenAPI document: every endpoint with an id in its path,
 * called with tenant A's ids by another organization (and, on /v1, by another project of A's
 * organization), answers 404 in its surface's dialect and changes nothing of A's. The run-token
 * callback API answers 401 to another run's token and to an API key.
 */
type Caller = { name: string; headers: Record<string, string> };
interface Endpoint { method: string; path: string; operationId: string; runToken: boolean }

let ep: Awaited<ReturnType<typeof jobEndpoint>>;
let a: Awaited<ReturnType<typeof newTenant>>;
let otherOrg: Caller;
let otherProject: Caller;
let otherRunToken: Caller;
let endpoints: Endpoint[];
/** A's resources by the path prefix that names them, e.g. '/v1/runs/{runID}'. */
let ids: Record<string, string>;
let otherOrgJob: string;
let otherOrgRun: string;

const FUTURE = new Date(Date.now() + 86_400_000).toISOString();
/** Valid bodies, so that a 404 can only come from the ownership check (a bad body would be 422). */
const BODIES: Record<string, (ids: Record<string, string>) => unknown> = {
  updateAutomation: () => ({ name: 'hijacked' }),
  updateJob: () => ({ name: 'hijacked' }),
  addJobDependency: (i) => ({ depends_on_job_id: i['/v1/jobs/{jobID}/dependencies/{dependsOnJobID}'] }),
  triggerJobBulk: () => ({ items: [{}] }),
  rescheduleRun: () => ({ scheduled_at: FUTURE }),
  runCallbackLog: () => ({ message: 'hijacked' }),
  runCallbackCheckpoint: () => ({ state: { hijacked: true } }),
  runCallbackOutput: () => ({ output_key: 'hijacked', value: 1 }),
  runCallbackUsage: () => ({ provider: 'p', model: 'm', prompt_tokens: 1, completion_tokens: 1 }),
  runCallbackToolCall: () => ({ tool_name: 'hijacked' }),
  runCallbackStream: () => ({ chunk: 'hijacked' }),
  runCallbackState: () => ({ key: 'cursor', value: 'hijacked' }),
  runCallbackSpawn: (i) => ({ job_id: i['/v1/jobs/{jobID}'] }),
  runCallbackFail: () => ({ error: 'hijacked' }),
};

/** One request with a deadline: an event stream opened by mistake must not hang the test. */
async function call(caller: Caller, method: string, url: string, body?: unknown) {
  const res = await fetch(testStack().apiUrl + url, {
    method,
    headers: { ...caller.headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  }).catch((err: Error) => ({ status: 0, text: async () => `no response: ${err.message}` }));
  const text = await res.text().catch((err: Error) => `unreadable (${err.message})`);
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* left as text */ }
  return { status: res.status, body: parsed as any };
}

const dialect = (path: string) => (path.startsWith('/v1/') ? { error: expect.any(String), request_id: expect.any(String) } : { detail: expect.any(String) });

/** The concrete URL of an endpoint with A's ids, or null when a path parameter has no fixture. */
function urlFor(path: string): string | null {
  let missing = false;
  const url = path.replace(/\{\w+\}/g, (param, at: number) => ids[path.slice(0, at + param.length)] ?? ((missing = true), param));
  return missing ? null : url;
}

/** A run's duration grows while it runs: it is not state. */
const withoutLiveFields = (body: unknown) => JSON.parse(JSON.stringify(body), (k, v) => (k === 'durationSeconds' ? undefined : v));

/** What another tenant must not change: A's resources as A reads them, and A's rows in Postgres. */
async function snapshotOfA() {
  const reads = Object.fromEntries(await Promise.all([
    ...Object.entries(ids).filter(([p]) => !p.startsWith('/v1/sdk/') && !p.includes('{dependsOnJobID}')).map(([p]) => urlFor(p)!),
    `/api/v1/automations/${ids['/api/v1/automations/{automation_id}']}/versions`, `/api/v1/automation-runs/${ids['/api/v1/automation-runs/{run_id}']}/steps`,
    `/v1/jobs/${ids['/v1/jobs/{jobID}']}/dependencies`, `/v1/runs/${ids['/v1/runs/{runID}']}/events`, `/v1/runs/${ids['/v1/runs/{runID}']}/state`,
    '/v1/jobs', '/v1/runs', '/api/v1/action-runs', '/api/v1/automations', '/api/v1/automation-runs',
  ].map(async (url) => [url, await a.api.get(url)] as const)).then((all) => all.map(([url, r]) => [url, { status: r.status, body: withoutLiveFields(r.body) }])));
  const [rows] = await sql(`
    with a as (select ?::uuid as org, ?::uuid as project)
    select (select json_agg(json_build_object('id', id, 'status', status, 'attempt', attempt, 'debug', debug_mode, 'updated', updated_at) order by id)
        from runs, a where organization_id = a.org) as runs,
      ${['run_events', 'run_logs', 'run_checkpoints', 'run_state', 'run_outputs', 'run_usage', 'run_tool_calls', 'automation_run_steps']
        .map((t) => `(select count(*) from ${t} x join runs r on r.id = x.run_id, a where r.organization_id = a.org) as ${t}`).join(',\n      ')},
      (select count(*) from jobs, a where project_id = a.project) as jobs,
      (select count(*) from job_dependencies d join jobs j on j.id = d.job_id, a where j.project_id = a.project) as job_dependencies,
      (select count(*) from automations, a where organization_id = a.org) as automations,
      (select count(*) from automation_versions v join automations x on x.id = v.automation_id, a where x.organization_id = a.org) as automation_versions`,
  [a.tenant.organizationId, a.tenant.projectId]);
  return { reads, rows };
}

async function asyncJob(api: Api, path: string) {
  ep.on(path, () => ({ status: 202 }));
  const job = await api.post('/v1/jobs', { name: path, slug: `iso${path.replace(/\W/g, '-')}-${Date.now()}`, endpoint_url: `${ep.base}${path}` });
  expect(job.status).toBe(201);
  return job.body.id as string;
}
/** A job run the endpoint accepted (202): it stays executing, and its dispatch carries its run token. */
async function executingRun(api: Api, jobId: string): Promise<Dispatch> {
  const t = await api.post(`/v1/jobs/${jobId}/trigger`, {});
  expect(t.status).toBe(201);
  const [d] = await waitFor(async () => ep.for(t.body.id), (x) => x.length > 0, 30_000, 'dispatch');
  await waitFor(async () => (await api.get(`/v1/runs/${t.body.id}`)).body.status, (s) => s === 'executing', 30_000, 'executing');
  return d;
}

beforeAll(async () => {
  ep = await jobEndpoint();
  a = await newTenant('iso-a');
  const b = await newTenant('iso-b');
  otherOrg = { name: 'another organization', headers: { authorization: `Bearer ${b.key}` } };
  otherProject = { name: 'another project of the organization', headers: { authorization: `Bearer ${(await secondProject(a.tenant)).key}` } };

  const doc = (await client(null).get('/openapi.json')).body;
  endpoints = Object.entries(doc.paths).flatMap(([path, ops]: [string, any]) => Object.entries(ops).map(([method, op]: [string, any]) => ({
    method: method.toUpperCase(), path, operationId: op.operationId, runToken: (op.security ?? []).some((s: object) => 'runToken' in s),
  }))).filter((e) => e.path.includes('{'));

  // A: an action run waiting for approval, an automation (two versions) with a run waiting on its
  // gate, two jobs with a dependency, and an executing job run with state.
  const gate = await a.api.post('/api/v1/action-runs', { kind: 'approval_gate', definition: { title: 'isolated' } });
  expect((await a.api.post(`/api/v1/action-runs/${gate.body.id}/execute`)).status).toBe(200);
  const automation = await a.api.post('/api/v1/automations', { name: 'iso', steps: [{ key: 'gate', kind: 'approval_gate', definition: {} }] });
  expect((await a.api.request('PATCH', `/api/v1/automations/${automation.body.id}`, { description: 'v2' })).status).toBe(200);
  const automationRun = await a.api.post(`/api/v1/automations/${automation.body.id}/runs`, {});
  const [job, job2] = [await asyncJob(a.api, '/a'), await asyncJob(a.api, '/a2')];
  const run = await executingRun(a.api, job);
  expect((await a.api.post(`/v1/jobs/${job}/dependencies`, { depends_on_job_id: job2, condition: 'any' })).status).toBe(201);
  expect((await client(null).post(`/v1/sdk/runs/${run.runId}/state`, { key: 'cursor', value: 1 }, { 'x-run-token': run.token })).status).toBe(200);
  ids = {
    '/api/v1/action-runs/{run_id}': gate.body.id,
    '/api/v1/automations/{automation_id}': automation.body.id,
    '/api/v1/automation-runs/{run_id}': automationRun.body.id,
    '/v1/jobs/{jobID}': job,
    '/v1/jobs/{jobID}/dependencies/{dependsOnJobID}': job2,
    '/v1/runs/{runID}': run.runId,
    '/v1/sdk/runs/{runID}': run.runId,
    '/v1/sdk/runs/{runID}/state/{key}': 'cursor',
  };
  await waitFor(() => a.api.get(`/api/v1/action-runs/${gate.body.id}`), (r) => r.body.status === 'waiting_approval', 30_000, 'gate waiting');
  await waitFor(() => a.api.get(`/api/v1/automation-runs/${automationRun.body.id}`), (r) => r.body.status === 'waiting', 30_000, 'automation run waiting');

  // The other organization's own executing run: its token is valid, for another run.
  otherOrgJob = await asyncJob(b.api, '/b');
  const theirs = await executingRun(b.api, otherOrgJob);
  otherOrgRun = theirs.runId;
  otherRunToken = { name: "another run's token", headers: { 'x-run-token': theirs.token } };
});

afterAll(async () => {
  if (ids) await cancelAll();
  await ep.close();
  await closeDb();
});

async function cancelAll() {
  await a.api.post(`/api/v1/action-runs/${ids['/api/v1/action-runs/{run_id}']}/cancel`);
  await a.api.post(`/api/v1/automation-runs/${ids['/api/v1/automation-runs/{run_id}']}/cancel`);
  await a.api.delete(`/v1/runs/${ids['/v1/runs/{runID}']}`);
  if (otherOrgRun) await client(null).request('DELETE', `/v1/runs/${otherOrgRun}`, undefined, otherOrg.headers);
}

describe('tenant isolation', () => {
  it('has a fixture for every endpoint with an id in its path', () => {
    expect(endpoints.length).toBeGreaterThan(40);
    expect(endpoints.filter((e) => urlFor(e.path) === null).map((e) => `${e.method} ${e.path}`)).toEqual([]);
  });

  it("answers 404 (401 on the run-token API) to every endpoint called with another tenant's ids, and changes nothing", async () => {
    const before = await snapshotOfA();
    const ownKey: Caller = { name: 'an API key instead of a run token', headers: { authorization: `Bearer ${a.key}` } };
    const leaks: string[] = [];
    let calls = 0;
    for (const e of endpoints) {
      const callers = e.runToken ? [otherRunToken, ownKey] : e.path.startsWith('/v1/') ? [otherOrg, otherProject] : [otherOrg];
      const status = e.runToken ? 401 : 404;
      for (const caller of callers) {
        const res = await call(caller, e.method, urlFor(e.path)!, e.method === 'GET' || e.method === 'DELETE' ? undefined : (BODIES[e.operationId]?.(ids) ?? {}));
        calls++;
        if (res.status !== status || !matches(res.body, dialect(e.path))) leaks.push(`${caller.name}: ${e.method} ${e.path} -> ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
    }
    expect(leaks).toEqual([]);
    expect(calls).toBeGreaterThan(60);
    expect(await snapshotOfA()).toEqual(before);
  });

  it("ignores another tenant's ids in bodies and queries", async () => {
    const before = await snapshotOfA();
    const job = ids['/v1/jobs/{jobID}'];
    const run = ids['/v1/runs/{runID}'];
    const project = a.tenant.projectId;
    const cases: [Caller, string, string, unknown, number, unknown?][] = [
      [otherOrg, 'POST', '/api/v1/action-runs', { kind: 'approval_gate', parentActionRunId: ids['/api/v1/action-runs/{run_id}'] }, 422],
      [otherOrg, 'POST', '/api/v1/action-runs', { kind: 'call_automation', definition: { automationId: ids['/api/v1/automations/{automation_id}'] } }, 422],
      [otherOrg, 'GET', `/api/v1/action-runs?parent_action_run_id=${ids['/api/v1/action-runs/{run_id}']}`, undefined, 200, expect.objectContaining({ runs: [], total: 0 })],
      [otherOrg, 'POST', `/v1/jobs/${otherOrgJob}/dependencies`, { depends_on_job_id: job }, 422],
      [otherRunToken, 'POST', `/v1/sdk/runs/${otherOrgRun}/spawn`, { job_id: job }, 422],
      ...[otherOrg, otherProject].flatMap((caller): [Caller, string, string, unknown, number, unknown?][] => [
        [caller, 'GET', `/v1/runs?project_id=${project}`, undefined, 404],
        [caller, 'GET', `/v1/runs/dlq?project_id=${project}`, undefined, 404],
        [caller, 'GET', `/v1/jobs?project_id=${project}`, undefined, 404],
        [caller, 'GET', `/v1/runs?job_id=${job}`, undefined, 200, []],
        [caller, 'POST', `/v1/runs/bulk-cancel-all?project_id=${project}`, { job_id: job }, 404],
        [caller, 'POST', '/v1/runs/bulk-cancel-all', { job_id: job }, 200, expect.objectContaining({ total: 0, canceled: 0 })],
        [caller, 'POST', '/v1/runs/bulk-cancel', { run_ids: [run] }, 200, { results: [{ id: run, status: 'error', error: 'run not found' }], total: 1, canceled: 0, failed: 1 }],
        [caller, 'POST', '/v1/runs/bulk-replay', { run_ids: [run] }, 200, []],
        [caller, 'POST', '/v1/runs/bulk-dlq-replay', { run_ids: [run] }, 200, { replayed: [], count: 0 }],
      ]),
    ];
    const wrong: string[] = [];
    for (const [caller, method, url, body, status, expected] of cases) {
      const res = await call(caller, method, url, body);
      if (res.status !== status || (expected !== undefined && !matches(res.body, expected))) wrong.push(`${caller.name}: ${method} ${url} -> ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    }
    expect(wrong).toEqual([]);
    expect(await snapshotOfA()).toEqual(before);
  });
});

/** Whether `value` matches `expected` (asymmetric matchers included), without failing the test at the first mismatch. */
function matches(value: unknown, expected: unknown): boolean {
  try {
    expect(value).toEqual(expected);
    return true;
  } catch {
    return false;
  }
}
