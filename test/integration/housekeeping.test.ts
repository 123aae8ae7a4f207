import type { Client } from '@temporalio/client';
import { newId } from '../../core/ids';
import { closeDb, newTenant, sql, temporalClient, testStack, waitFor } from '../helpers/stack';
import { runHousekeeping } from '../helpers/resilience';
import { runSearchAttributes } from '../../workflows/search-attributes';

let client: Client;
beforeAll(async () => {
  client = await temporalClient();
});
afterAll(async () => {
  await client.connection.close();
  await closeDb();
});

describe('housekeeping', () => {
  it('deletes terminal runs past retention, never an active run, and repairs disagreeing rows and workflows', async () => {
    const { api, tenant } = await newTenant('housekeeping');
    const job = (await api.post('/v1/jobs', { name: 'h', slug: 'h', endpoint_url: 'http://127.0.0.1:9/never' })).body;
    const insert = async (status: string, completedDaysAgo: number | null, updatedMinsAgo = 0) => {
      const id = newId();
      await sql(`insert into runs (id, kind, executor, target_id, organization_id, project_id, status, root_id, completed_at, updated_at)
        values (?, 'job', ?, ?, ?, ?, ?, ?, ${completedDaysAgo === null ? 'null' : `now() - interval '${completedDaysAgo} days'`}, now() - interval '${updatedMinsAgo} minutes')`,
      [id, job.id, job.id, tenant.organizationId, tenant.projectId, status, id]);
      return id;
    };
    const old = await insert('completed', 40);
    const recent = await insert('completed', 5);
    const orphanRow = await insert('queued', null, 10);

    // A workflow whose row was never written (a crash between the two writes).
    const orphanWorkflow = newId();
    await client.workflow.start('jobRunWorkflow', {
      workflowId: orphanWorkflow, taskQueue: testStack().taskQueue,
      typedSearchAttributes: runSearchAttributes('job', tenant.organizationId, tenant.projectId, 'delayed'),
      args: [{
        runId: orphanWorkflow, jobId: job.id, organizationId: tenant.organizationId, initialStatus: 'delayed',
        scheduledAt: new Date(Date.now() + 3_600_000).toISOString(), expiresAt: null, concurrencyKey: null, priority: 0, attempt: 1,
        hasDependencies: false, debugMode: false, heartbeatTimeoutSecs: 3, parentRunId: null,
        job: { endpointUrl: 'http://127.0.0.1:9', maxAttempts: 1, timeoutSecs: 1, retryStrategy: 'fixed', retryInitialDelaySecs: 1, retryMaxDelaySecs: 1, maxConcurrency: null },
      }],
    });
    await new Promise((r) => setTimeout(r, 4000));

    const result = await runHousekeeping(client);
    expect(result.purged).toBeGreaterThanOrEqual(1);
    expect(await sql('select id from runs where id = ?', [old])).toHaveLength(0);
    expect(await sql('select id from runs where id = ?', [recent])).toHaveLength(1);
    const [repaired] = await sql('select status, error from runs where id = ?', [orphanRow]);
    expect(repaired.status).toBe('system_failed');
    expect((await client.workflow.getHandle(orphanWorkflow).describe()).status.name).toBe('TERMINATED');
  }, 60_000);
});
