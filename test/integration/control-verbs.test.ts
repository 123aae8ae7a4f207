import { closeDb, newTenant, secondUser, startRun, waitForStatus, type Api } from '../helpers/stack';
import { targetServer } from '../helpers/target-server';
import type { Tenant } from '../../db/tenancy';

let api: Api;
let tenant: Tenant;

beforeAll(async () => {
  ({ api, tenant } = await newTenant('control'));
});
afterAll(closeDb);

describe('approval', () => {
  it('completes an approval gate on approve with who and when', async () => {
    const run = await startRun(api, 'approval_gate', { title: 'Ship it?' });
    await waitForStatus(api, run.id, 'waiting_approval');
    expect((await api.get(`/api/v1/action-runs/${run.id}`)).body.displayStatus).toBe('Awaiting approval');
    const res = await api.post(`/api/v1/action-runs/${run.id}/approve`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('completed');
    expect(res.body.result).toMatchObject({ approved: true, approvedBy: tenant.userId });
    expect(Date.parse(res.body.result.approvedAt)).not.toBeNaN();
  });

  it('ends a run rejected with the reason', async () => {
    const run = await startRun(api, 'approval_gate', {});
    await waitForStatus(api, run.id, 'waiting_approval');
    const res = await api.post(`/api/v1/action-runs/${run.id}/reject`, { reason: 'not today' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('rejected');
    expect(res.body.error).toMatchObject({ code: 'rejected' });
    expect(res.body.error.message).toContain('not today');
    expect((await api.post(`/api/v1/action-runs/${run.id}/retry`)).status).toBe(409);
  });

  it('answers 409 to approve or reject outside waiting_approval', async () => {
    const created = await api.post('/api/v1/action-runs', { kind: 'approval_gate', definition: {} });
    const approve = await api.post(`/api/v1/action-runs/${created.body.id}/approve`);
    expect(approve.status).toBe(409);
    expect(approve.body.detail).toBe('cannot approve run in status pending');
    expect((await api.post(`/api/v1/action-runs/${created.body.id}/reject`, {})).status).toBe(409);
  });

  it('fails with approval_timeout when nobody decides in time', async () => {
    const run = await startRun(api, 'approval_gate', { timeoutSeconds: 1 });
    const done = await waitForStatus(api, run.id, 'failed');
    expect(done.error).toMatchObject({ code: 'approval_timeout' });
  });

  it('holds any kind with requiresApproval until approved, then runs it', async () => {
    const run = await startRun(api, 'conditional_branch', { expression: '1 + 1', requiresApproval: true });
    await waitForStatus(api, run.id, 'waiting_approval');
    await api.post(`/api/v1/action-runs/${run.id}/approve`);
    const done = await waitForStatus(api, run.id, 'completed');
    expect(done.result).toEqual({ value: 2, branch: 'true' });
  });

  it('refuses self-approval when selfApprovalDisabled, and accepts another user', async () => {
    const run = await startRun(api, 'approval_gate', { selfApprovalDisabled: true });
    await waitForStatus(api, run.id, 'waiting_approval');
    const self = await api.post(`/api/v1/action-runs/${run.id}/approve`);
    expect(self.status).toBe(403);
    const other = await secondUser(tenant);
    const res = await other.post(`/api/v1/action-runs/${run.id}/approve`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('completed');
  });
});

describe('concurrency key', () => {
  it('keeps a second run queued while the first holds the key, then runs it', async () => {
    const first = await startRun(api, 'approval_gate', {}, { concurrencyKey: 'deploy' });
    await waitForStatus(api, first.id, 'waiting_approval');
    const second = await startRun(api, 'conditional_branch', { expression: 'true' }, { concurrencyKey: 'deploy' });
    const other = await startRun(api, 'conditional_branch', { expression: 'true' }, { concurrencyKey: 'other' });
    await waitForStatus(api, other.id, 'completed');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await api.get(`/api/v1/action-runs/${second.id}`)).body.status).toBe('queued');
    await api.post(`/api/v1/action-runs/${first.id}/approve`);
    await waitForStatus(api, second.id, 'completed');
  });

  it('pauses a queued run and resumes it, counting the interruption', async () => {
    const holder = await startRun(api, 'approval_gate', {}, { concurrencyKey: 'pause-key' });
    await waitForStatus(api, holder.id, 'waiting_approval');
    const queued = await startRun(api, 'conditional_branch', { expression: 'true' }, { concurrencyKey: 'pause-key' });
    const paused = await api.post(`/api/v1/action-runs/${queued.id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('paused');
    expect((await api.post(`/api/v1/action-runs/${queued.id}/pause`)).status).toBe(409);
    const resumed = await api.post(`/api/v1/action-runs/${queued.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'queued', interruptCount: 1 });
    await api.post(`/api/v1/action-runs/${holder.id}/approve`);
    await waitForStatus(api, queued.id, 'completed');
  });
});

describe('pause, cancel, retry rules', () => {
  it('answers 409 "not pausable" for a running kind with no safe point, and 409 to resume a run not paused', async () => {
    const run = await startRun(api, 'approval_gate', {});
    await waitForStatus(api, run.id, 'waiting_approval');
    const res = await api.post(`/api/v1/action-runs/${run.id}/pause`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain('not pausable');
    expect((await api.post(`/api/v1/action-runs/${run.id}/resume`)).status).toBe(409);
    await api.post(`/api/v1/action-runs/${run.id}/cancel`);
  });

  it('cancels a pending run at once, and a terminal run is 409', async () => {
    const created = await api.post('/api/v1/action-runs', { kind: 'approval_gate', definition: {} });
    const res = await api.post(`/api/v1/action-runs/${created.body.id}/cancel`);
    expect(res.body.status).toBe('cancelled');
    expect((await api.post(`/api/v1/action-runs/${created.body.id}/cancel`)).status).toBe(409);
  });

  it('cancels a running run and cascades to its child runs', async () => {
    const target = await targetServer(() => undefined); // never answers
    try {
      const parent = await startRun(api, 'approval_gate', {});
      await waitForStatus(api, parent.id, 'waiting_approval');
      const child = await startRun(api, 'http_request', { url: `${target.url}/hang`, timeoutSeconds: 600 }, { parentActionRunId: parent.id });
      await waitForStatus(api, child.id, 'running');
      const grandchild = (await api.post('/api/v1/action-runs', { kind: 'approval_gate', definition: {}, parentActionRunId: child.id })).body;
      const res = await api.post(`/api/v1/action-runs/${parent.id}/cancel`);
      expect(res.status).toBe(200);
      expect(['cancelling', 'cancelled']).toContain(res.body.status);
      await waitForStatus(api, parent.id, 'cancelled');
      await waitForStatus(api, child.id, 'cancelled');
      await waitForStatus(api, grandchild.id, 'cancelled');
    } finally {
      await target.close();
    }
  });

  it('retries a cancelled run in place', async () => {
    const run = await startRun(api, 'approval_gate', {});
    await waitForStatus(api, run.id, 'waiting_approval');
    await api.post(`/api/v1/action-runs/${run.id}/cancel`);
    await waitForStatus(api, run.id, 'cancelled');
    const retried = await api.post(`/api/v1/action-runs/${run.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: run.id, retryCount: 1, status: 'queued', error: null, completedAt: null });
    await waitForStatus(api, run.id, 'waiting_approval');
    await api.post(`/api/v1/action-runs/${run.id}/approve`);
    await waitForStatus(api, run.id, 'completed');
  });
});
