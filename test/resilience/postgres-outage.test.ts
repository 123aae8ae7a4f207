import { jobEndpoint } from '../helpers/job-endpoint';
import { expectEachAttemptOnce, scale, settledJobRuns, stackPostgres } from '../helpers/resilience';
import { closeDb, newTenant, sql, testStack, waitFor } from '../helpers/stack';

/**
 * The stack's Postgres is stopped for 20 s while clients trigger and list runs. Acknowledged: a
 * trigger answered 2xx. Checked: meanwhile every answer is a 2xx or a 503 with Retry-After (no 500,
 * none slower than 10 s) and /readyz says 503; afterwards every acknowledged run completes with
 * its whole event trail, and the stack (its API, worker and LISTEN connection) recovered.
 */
const OUTAGE_MS = 20_000;
const CLIENTS = scale(20, 8);

afterAll(closeDb);

it(`answers 503 + Retry-After while Postgres is down for ${OUTAGE_MS / 1000} s and loses nothing acknowledged`, async () => {
  const { api } = await newTenant('pg-outage');
  const ep = await jobEndpoint();
  const pg = stackPostgres();
  try {
    const job = (await api.post('/v1/jobs', { name: 'pg', slug: 'pg', endpoint_url: `${ep.base}/ok`, max_attempts: 5, retry_initial_delay_secs: 0.5 })).body;
    const acknowledged: string[] = [];
    const answers: { status: number; ms: number; retryAfter: string | null; at: number; what: string }[] = [];
    let load = true;
    let i = 0;
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      while (load) {
        const t0 = Date.now();
        const trigger = c % 2 === 0;
        const res = trigger ? await api.post(`/v1/jobs/${job.id}/trigger`, { payload: { i: i++ } }) : await api.get(`/v1/runs?job_id=${job.id}&limit=20`);
        answers.push({ status: res.status, ms: Date.now() - t0, retryAfter: res.headers.get('retry-after'), at: t0, what: trigger ? 'trigger' : 'list' });
        if (trigger && res.status < 300) acknowledged.push(res.body.id);
        if (res.status >= 500) await new Promise((r) => setTimeout(r, 200));
      }
    });
    await new Promise((r) => setTimeout(r, 3000));
    await closeDb(); // the test's own pool; the stack's processes must cope on their own
    await pg.stop();
    const down = Date.now();
    const ready = await fetch(`${testStack().apiUrl}/readyz`);
    expect(ready.status).toBe(503);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const up = Date.now();
    await pg.start();
    await waitFor(() => fetch(`${testStack().apiUrl}/readyz`).then((r) => r.status), (s) => s === 200, 30_000, '/readyz after the restart');
    await new Promise((r) => setTimeout(r, 3000));
    load = false;
    await Promise.all(clients);

    const unexpected = answers.filter((a) => !(a.status < 300 || (a.status === 503 && a.retryAfter)));
    expect(unexpected).toEqual([]);
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(10_000);
    const whileDown = answers.filter((a) => a.at > down + 1000 && a.at < up);
    expect(whileDown.length).toBeGreaterThan(0);
    expect(new Set(whileDown.map((a) => a.status))).toEqual(new Set([503]));
    expect(answers.filter((a) => a.at > up + 5000 && a.status !== 200 && a.status !== 201)).toEqual([]);

    expect(await settledJobRuns(job.id, acknowledged.length, 180_000)).toEqual({ completed: acknowledged.length });
    const trails = await sql(`select run_id, array_agg(data->>'to' order by id) as path from run_events where type = 'status' and run_id = any(?::uuid[]) group by run_id`, [acknowledged]);
    expect(trails).toHaveLength(acknowledged.length);
    for (const t of trails) expect([t.path[0], t.path[t.path.length - 1]]).toEqual(['queued', 'completed']);
    await expectEachAttemptOnce(ep, job.id);
    console.log(`postgres-outage: ${answers.length} requests (${whileDown.length} while down), ${acknowledged.length} acknowledged runs, slowest answer ${Math.max(...answers.map((a) => a.ms))} ms`);
  } finally {
    await pg.start().catch(() => undefined);
    await ep.close();
  }
}, 400_000);
