import { closeDb, newTenant, startRun, temporalClient, testStack, waitFor, waitForStatus, type Api } from '../helpers/stack';
import { readSseFrom } from '../helpers/sse';
import { json, targetServer } from '../helpers/target-server';

let api: Api;
let key: string;
let target: Awaited<ReturnType<typeof targetServer>>;
let healthy = false;

beforeAll(async () => {
  ({ api, key } = await newTenant('automations'));
  target = await targetServer((hit, res) => {
    if (hit.url.startsWith('/flaky')) return healthy ? json(res, 200, { ok: true }) : json(res, 404, { missing: true });
    if (hit.url.startsWith('/hang')) return undefined;
    if (hit.url.startsWith('/slow')) return void setTimeout(() => json(res, 200, { slow: true }), 700);
    json(res, 200, { ok: true });
  });
});
afterAll(async () => {
  await target.close();
  await closeDb();
});

const step = (key: string, kind: string, definition: Record<string, unknown>, dependsOn: string[] = []) => ({ key, kind, definition, dependsOn });
const branch = (key: string, expression: string, dependsOn: string[] = [], input?: unknown) => step(key, 'conditional_branch', { expression, ...(input !== undefined && { input }) }, dependsOn);

async function createAutomation(body: Record<string, unknown>) {
  const res = await api.post('/api/v1/automations', { name: 'test', ...body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
async function run(automationId: string, input?: unknown) {
  const res = await api.post(`/api/v1/automations/${automationId}/runs`, input === undefined ? {} : { input });
  expect(res.status).toBe(201);
  return res.body;
}
function waitForRun(id: string, statuses: string | string[], timeoutMs = 30_000) {
  const want = Array.isArray(statuses) ? statuses : [statuses];
  return waitFor(async () => (await api.get(`/api/v1/automation-runs/${id}`)).body, (r) => want.includes(r.status), timeoutMs, `automation run ${id} to be ${want}`);
}
async function steps(id: string) {
  return (await api.get(`/api/v1/automation-runs/${id}/steps`)).body;
}
const byKey = (s: any) => Object.fromEntries(s.steps.map((x: any) => [x.key, x]));

describe('definitions', () => {
  it('rejects bad definitions with 422 naming the step', async () => {
    const cases: [unknown[], string][] = [
      [[branch('a', '1'), branch('a', '2')], 'body.steps.1.key'],
      [[branch('a', '1', ['nope'])], 'body.steps.0.dependsOn'],
      [[branch('a', '1', ['b']), branch('b', '1', ['a'])], 'body.steps.0.dependsOn'],
      [[step('a', 'teleport', {})], 'body.steps.0.kind'],
      [[step('a', 'http_request', { url: 'nope' })], 'body.steps.0.definition.url'],
      [[branch('a', '{{steps.zz.result}}')], 'body.steps.0.definition'],
    ];
    for (const [stepsBody, loc] of cases) {
      const res = await api.post('/api/v1/automations', { name: 'bad', steps: stepsBody });
      expect([loc, res.status]).toEqual([loc, 422]);
      expect(res.body.detail.map((d: any) => d.loc.join('.'))).toContain(loc);
    }
    const cron = await api.post('/api/v1/automations', { name: 'bad', steps: [branch('a', '1')], schedule: { cron: 'every day', timezone: 'Mars/Base' } });
    expect(cron.body.detail.map((d: any) => d.loc.join('.')).sort()).toEqual(['body.schedule.cron', 'body.schedule.timezone']);
  });

  it('saves every change as a new immutable version and pins runs to one', async () => {
    const a = await createAutomation({ steps: [branch('a', '1')] });
    expect(a.versionNumber).toBe(1);
    const r1 = await run(a.id);
    const patched = await api.request('PATCH', `/api/v1/automations/${a.id}`, { steps: [branch('a', '2'), branch('b', '3', ['a'])] });
    expect(patched.body.versionNumber).toBe(2);
    const versions = (await api.get(`/api/v1/automations/${a.id}/versions`)).body;
    expect(versions.items.map((v: any) => v.versionNumber)).toEqual([2, 1]);
    const r2 = await run(a.id);
    expect((await waitForRun(r1.id, 'completed')).versionNumber).toBe(1);
    expect((await waitForRun(r2.id, 'completed')).versionNumber).toBe(2);
    expect((await steps(r1.id)).steps).toHaveLength(1);
    expect((await steps(r2.id)).steps).toHaveLength(2);
  });
});

describe('running a DAG', () => {
  it('runs a diamond with B and C in parallel and passes results downstream', async () => {
    const a = await createAutomation({
      steps: [
        branch('a', '1 + 1'),
        step('b', 'http_request', { url: `${target.url}/slow?x={{steps.a.result.value}}` }, ['a']),
        step('c', 'http_request', { url: `${target.url}/slow` }, ['a']),
        branch('d', 'b.status + c', ['b', 'c'], { b: '{{steps.b.result}}', c: '{{steps.a.result.value}}' }),
      ],
    });
    const started = Date.now();
    const r = await run(a.id);
    const done = await waitForRun(r.id, 'completed');
    const wall = Date.now() - started;
    const s = byKey(await steps(r.id));
    expect(s.d.result).toEqual({ value: 202, branch: 'true' });
    const overlap = (x: any, y: any) => Date.parse(x.startedAt) < Date.parse(y.completedAt) && Date.parse(y.startedAt) < Date.parse(x.completedAt);
    expect(overlap(s.b, s.c)).toBe(true);
    expect(target.hits.some((h) => h.url === '/slow?x=2')).toBe(true);
    expect(done.durationSeconds).toBeGreaterThan(0);
    expect(wall).toBeLessThan(15_000);
    const counters = await steps(r.id);
    expect(counters).toMatchObject({ completedCount: 4, failedCount: 0, pendingCount: 0, runningCount: 0 });
  });

  it('shows step action runs as child workflows of the automation run in Temporal', async () => {
    const a = await createAutomation({ steps: [branch('a', '1')] });
    const r = await run(a.id);
    await waitForRun(r.id, 'completed');
    const actionRunId = (await steps(r.id)).steps[0].actionRunId;
    const client = await temporalClient();
    try {
      const desc = await client.workflow.getHandle(actionRunId).describe();
      expect(desc.parentExecution?.workflowId).toBe(r.id);
      expect(desc.type).toBe('actionRunWorkflow');
    } finally {
      await client.connection.close();
    }
  });

  it('fails the run on a failed step and skips its downstream, while independent steps finish', async () => {
    healthy = false;
    const a = await createAutomation({
      steps: [branch('a', '1'), step('b', 'http_request', { url: `${target.url}/flaky` }, ['a']), branch('c', '1', ['b']), branch('e', '1', ['a'])],
    });
    const r = await run(a.id);
    const done = await waitForRun(r.id, 'failed');
    expect(done.error).toMatchObject({ code: 'step_failed', steps: ['b'] });
    const s = byKey(await steps(r.id));
    expect([s.a.status, s.b.status, s.c.status, s.e.status]).toEqual(['completed', 'failed', 'skipped', 'completed']);
    expect(s.b.error).toMatchObject({ code: 'http_status', status: 404 });
  });

  it('skips the dependants of a branch that evaluates false', async () => {
    const a = await createAutomation({ steps: [branch('gate', 'false'), branch('then', '1', ['gate']), branch('other', '1')] });
    const r = await run(a.id);
    await waitForRun(r.id, 'completed');
    const s = byKey(await steps(r.id));
    expect([s.gate.status, s.then.status, s.other.status]).toEqual(['completed', 'skipped', 'completed']);
    expect(s.gate.decisionId).toBe(s.gate.actionRunId);
  });
});

describe('approval inside a DAG', () => {
  for (const verdict of ['approve', 'reject'] as const) {
    it(`waits for a decision, then ${verdict === 'approve' ? 'completes' : 'fails'} on ${verdict}`, async () => {
      const a = await createAutomation({ steps: [step('ok', 'approval_gate', { title: 'go?' }), branch('after', '1', ['ok'])] });
      const r = await run(a.id);
      await waitForRun(r.id, 'waiting');
      const waiting = await waitFor(() => steps(r.id), (s) => byKey(s).ok.status === 'waiting', 10_000, 'step waiting');
      expect(waiting.pendingCount).toBe(2);
      const gate = byKey(waiting).ok;
      expect(gate.decisionId).toBe(gate.actionRunId);
      const res = await api.post(`/api/v1/action-runs/${gate.actionRunId}/${verdict}`, verdict === 'reject' ? { reason: 'no' } : undefined);
      expect(res.status).toBe(200);
      if (verdict === 'approve') {
        await waitForRun(r.id, 'completed');
        expect(byKey(await steps(r.id)).after.status).toBe('completed');
      } else {
        await waitForRun(r.id, 'failed');
        expect(byKey(await steps(r.id)).after.status).toBe('skipped');
      }
    });
  }
});

describe('retry', () => {
  it('re-runs exactly the steps each mode names, reusing the others', async () => {
    healthy = false;
    const a = await createAutomation({
      steps: [branch('a', '1'), step('b', 'http_request', { url: `${target.url}/flaky` }, ['a']), branch('c', '1', ['b']), branch('e', '1', ['a'])],
    });
    const r = await run(a.id);
    await waitForRun(r.id, 'failed');
    const before = byKey(await steps(r.id));

    const dry = await api.post(`/api/v1/automation-runs/${r.id}/retry?dryRun=true`, { mode: 'from_failed' });
    expect(dry.body).toMatchObject({ dryRun: true, rerunSteps: ['b', 'c'], reusedSteps: ['a', 'e'] });
    expect((await api.get(`/api/v1/automation-runs/${r.id}`)).body.status).toBe('failed');

    expect((await api.post(`/api/v1/automation-runs/${r.id}/retry`, { mode: 'from_step', stepKey: 'c' })).status).toBe(409);
    expect((await api.post(`/api/v1/automation-runs/${r.id}/retry`, { mode: 'from_step' })).status).toBe(422);
    expect((await api.post(`/api/v1/automation-runs/${r.id}/retry`, { mode: 'full', stepKey: 'a' })).status).toBe(422);
    expect((await api.post(`/api/v1/automation-runs/${r.id}/retry`, { mode: 'from_step', stepKey: 'zz' })).status).toBe(422);

    healthy = true;
    const retried = await api.post(`/api/v1/automation-runs/${r.id}/retry`, {});
    expect(retried.body).toMatchObject({ id: r.id, status: 'pending' });
    expect((await api.post(`/api/v1/automation-runs/${r.id}/retry`, {})).status).toBe(409);
    await waitForRun(r.id, 'completed');
    const afterFailed = byKey(await steps(r.id));
    expect(afterFailed.a.actionRunId).toBe(before.a.actionRunId);
    expect(afterFailed.e.actionRunId).toBe(before.e.actionRunId);
    expect(afterFailed.b.actionRunId).not.toBe(before.b.actionRunId);
    expect(afterFailed.c.status).toBe('completed');

    await api.post(`/api/v1/automation-runs/${r.id}/retry`, { mode: 'from_step', stepKey: 'b' });
    await waitForRun(r.id, 'completed');
    const afterStep = byKey(await steps(r.id));
    expect(afterStep.a.actionRunId).toBe(before.a.actionRunId);
    expect(afterStep.b.actionRunId).not.toBe(afterFailed.b.actionRunId);
    expect(afterStep.c.actionRunId).not.toBe(afterFailed.c.actionRunId);
    expect(afterStep.e.actionRunId).toBe(before.e.actionRunId);

    await api.post(`/api/v1/automation-runs/${r.id}/retry`, { mode: 'full' });
    await waitForRun(r.id, 'completed');
    const afterFull = byKey(await steps(r.id));
    for (const k of ['a', 'b', 'c', 'e']) expect(afterFull[k].actionRunId).not.toBe(afterStep[k].actionRunId);
  });
});

describe('control', () => {
  it('cancels a running run and its running step', async () => {
    const a = await createAutomation({ steps: [step('wait', 'http_request', { url: `${target.url}/hang`, timeoutSeconds: 600 }), branch('next', '1', ['wait'])] });
    const r = await run(a.id);
    const s = await waitFor(() => steps(r.id), (x) => byKey(x).wait.status === 'running' && byKey(x).wait.actionRunId, 15_000, 'step running');
    await waitForStatus(api, byKey(s).wait.actionRunId, 'running');
    const res = await api.post(`/api/v1/automation-runs/${r.id}/cancel`);
    expect(res.status).toBe(200);
    await waitForRun(r.id, 'cancelled');
    await waitForStatus(api, byKey(s).wait.actionRunId, 'cancelled');
    const after = byKey(await steps(r.id));
    expect(after.wait.status).toBe('cancelled');
    expect(after.next.status).toBe('cancelled');
    expect((await api.post(`/api/v1/automation-runs/${r.id}/cancel`)).status).toBe(409);
  });

  it('keeps a second run pending while another run holds the concurrency key', async () => {
    const a = await createAutomation({ concurrencyKey: 'nightly', steps: [step('ok', 'approval_gate', {})] });
    const first = await run(a.id);
    await waitForRun(first.id, 'waiting');
    const second = await run(a.id);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await api.get(`/api/v1/automation-runs/${second.id}`)).body.status).toBe('pending');
    await api.post(`/api/v1/action-runs/${byKey(await steps(first.id)).ok.actionRunId}/approve`);
    await waitForRun(first.id, 'completed');
    await waitForRun(second.id, 'waiting');
    await api.post(`/api/v1/automation-runs/${second.id}/cancel`);
  });

  it('lists runs with a status filter and 404s another organization', async () => {
    const { api: other } = await newTenant('other');
    const a = await createAutomation({ steps: [branch('a', '1')] });
    const r = await run(a.id);
    await waitForRun(r.id, 'completed');
    const list = (await api.get('/api/v1/automation-runs?status=completed&limit=1000')).body;
    expect(list.items.some((x: any) => x.id === r.id)).toBe(true);
    expect(list.items.every((x: any) => x.status === 'completed')).toBe(true);
    for (const path of ['', '/steps', '/events']) expect((await other.get(`/api/v1/automation-runs/${r.id}${path}`)).status).toBe(404);
    expect((await other.post(`/api/v1/automation-runs/${r.id}/cancel`)).status).toBe(404);
    expect((await other.post(`/api/v1/automation-runs/${r.id}/retry`, {})).status).toBe(404);
    expect((await other.get(`/api/v1/automations/${a.id}`)).status).toBe(404);
    expect((await other.post(`/api/v1/automations/${a.id}/runs`, {})).status).toBe(404);
  });
});

describe('events', () => {
  it('streams run and step events, closes at the end, and resumes without gaps', async () => {
    const a = await createAutomation({ steps: [branch('a', '1'), branch('b', '1', ['a'])] });
    const r = await run(a.id);
    await waitForRun(r.id, 'completed');
    const base = testStack().apiUrl;
    const all = await readSseFrom(base, key, `/api/v1/automation-runs/${r.id}/events`);
    expect(all.map((e) => e.event)).toEqual(['run.status', 'step.started', 'step.completed', 'step.started', 'step.completed', 'run.status']);
    expect(all[all.length - 1].data).toMatchObject({ to: 'completed', terminal: true });
    const resumed = await readSseFrom(base, key, `/api/v1/automation-runs/${r.id}/events`, { 'last-event-id': all[2].id });
    expect(resumed.map((e) => e.id)).toEqual(all.slice(3).map((e) => e.id));
  });
});

describe('triggers', () => {
  it('runs on a schedule, and pausing the automation pauses its schedule', async () => {
    const a = await createAutomation({ steps: [branch('a', '1')], schedule: { cron: '0 6 * * 1-5', timezone: 'Europe/Paris' } });
    const client = await temporalClient();
    const schedule = client.schedule.getHandle(`tideway-automation:${a.id}`);
    const spec = (await schedule.describe()).spec;
    expect(spec.timezone).toBe('Europe/Paris');
    // Fire it now rather than wait for 06:00: Temporal runs the schedule's action as it would on time.
    await schedule.trigger();
    const scheduled = await waitFor(
      async () => (await api.get('/api/v1/automation-runs?limit=1000')).body.items.filter((x: any) => x.automationId === a.id),
      (items) => items.length > 0, 20_000, 'a scheduled run',
    );
    expect(scheduled[0]).toMatchObject({ triggerType: 'schedule', triggerSourceType: 'schedule' });
    const paused = await api.request('PATCH', `/api/v1/automations/${a.id}`, { paused: true });
    expect(paused.body).toMatchObject({ paused: true, versionNumber: 1 });
    try {
      const desc = await schedule.describe();
      expect(desc.state.paused).toBe(true);
      expect((await api.delete(`/api/v1/automations/${a.id}`)).status).toBe(204);
      await expect(schedule.describe()).rejects.toThrow();
    } finally {
      await client.connection.close();
    }
  });

  it('runs an automation from a call_automation action run and returns its result', async () => {
    const a = await createAutomation({ steps: [branch('double', 'n * 2', [], { n: '{{input.n}}' })] });
    const caller = await startRun(api, 'call_automation', { automationId: a.id, input: { n: 21 } });
    const done = await waitForStatus(api, caller.id, 'completed');
    expect(done.result).toMatchObject({ status: 'completed', result: { steps: { double: { value: 42, branch: 'true' } } } });
    const child = (await api.get(`/api/v1/automation-runs/${done.result.automationRunId}`)).body;
    expect(child).toMatchObject({ triggerType: 'automation', triggerSourceType: 'action_run', triggerSourceId: caller.id });
    const missing = await api.post('/api/v1/action-runs', { kind: 'call_automation', definition: { automationId: '00000000-0000-7000-8000-000000000000' } });
    expect(missing.status).toBe(422);
    expect(missing.body.detail[0].loc).toEqual(['body', 'definition', 'automationId']);
  });
});
