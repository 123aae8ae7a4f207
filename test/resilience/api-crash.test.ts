import type { Client } from '@temporalio/client';
import { freePort } from '../../scripts/stack';
import { jobEndpoint } from '../helpers/job-endpoint';
import { expectEachAttemptOnce, runHousekeeping, scale, settledJobRuns, triggerBurst } from '../helpers/resilience';
import { client as apiClient, closeDb, newTenant, spawnApi, sql, stopProcess, temporalClient } from '../helpers/stack';

/**
 * Acknowledged: a trigger answered 2xx. The API is killed (-9) in the middle of a burst and a new
 * one takes its port, as a supervisor would restart it. Checked: every acknowledged run completes
 * once; triggers cut off mid-request either became a complete run or left nothing behind; after
 * housekeeping no run row lacks its workflow and no workflow lacks its row.
 */
const TRIGGERS = scale(1000, 300);

let temporal: Client;
beforeAll(async () => {
  temporal = await temporalClient();
});
afterAll(async () => {
  await temporal.connection.close();
  await closeDb();
});

it(`runs every acknowledged trigger of a ${TRIGGERS}-trigger burst once when the API is killed mid-burst`, async () => {
  const { key } = await newTenant('api-crash');
  const ep = await jobEndpoint();
  const port = await freePort();
  let api = await spawnApi(port, 'crash-api-1');
  const http = apiClient(key, `http://127.0.0.1:${port}`);
  try {
    const job = (await http.post('/v1/jobs', { name: 'burst', slug: 'burst', endpoint_url: `${ep.base}/ok`, max_attempts: 3 })).body;
    let restarted: Promise<void> | null = null;
    const { acknowledged, statuses } = await triggerBurst(() => http, job.id, TRIGGERS, 50, {
      onProgress: async (i) => {
        if (i === Math.floor(TRIGGERS / 3)) {
          restarted = (async () => {
            await stopProcess(api, 'SIGKILL');
            api = await spawnApi(port, 'crash-api-2');
          })();
        }
        if (restarted && i > TRIGGERS / 3) await restarted;
      },
    });
    expect(statuses[500]).toBeUndefined();
    expect(acknowledged.length).toBeGreaterThan(TRIGGERS / 2);
    const rows = await sql('select count(*)::int as n from runs where target_id = ?', [job.id]);
    // A trigger whose connection was cut may still have committed: it is a run like any other.
    expect(rows[0].n).toBeGreaterThanOrEqual(acknowledged.length);
    expect(await settledJobRuns(job.id, rows[0].n)).toEqual({ completed: rows[0].n });
    const done = await sql('select id from runs where id = any(?::uuid[]) and status = ?', [acknowledged, 'completed']);
    expect(done).toHaveLength(acknowledged.length);
    await expectEachAttemptOnce(ep, job.id);

    // A workflow started by a request whose transaction never committed is terminated by housekeeping.
    await new Promise((r) => setTimeout(r, 3500));
    await runHousekeeping(temporal);
    const open: string[] = [];
    for await (const wf of temporal.workflow.list({ query: `TidewayRunKind = 'job' AND ExecutionStatus = 'Running'` })) open.push(wf.workflowId);
    const withRows = new Set((await sql('select id from runs where id = any(?::uuid[])', [open])).map((r) => r.id));
    expect(open.filter((id) => !withRows.has(id))).toEqual([]);
    console.log(`api-crash: ${TRIGGERS} triggers, ${acknowledged.length} acknowledged, ${rows[0].n} runs, responses ${JSON.stringify(statuses)}`);
  } finally {
    await stopProcess(api);
    await ep.close();
  }
}, 600_000);
