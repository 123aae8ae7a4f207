import { jobEndpoint } from '../helpers/job-endpoint';
import { scale, settledJobRuns, triggerBurst } from '../helpers/resilience';
import { closeDb, newTenant } from '../helpers/stack';

/** Acknowledged: every trigger answered 2xx. Checked: they all name the same, single run, which runs once. */
const TRIGGERS = 100;

afterAll(closeDb);

it(`makes exactly one run of ${TRIGGERS} concurrent triggers with one Idempotency-Key`, async () => {
  const { api } = await newTenant('idem');
  const ep = await jobEndpoint();
  try {
    const job = (await api.post('/v1/jobs', { name: 'idem', slug: 'idem', endpoint_url: `${ep.base}/ok` })).body;
    const { acknowledged, statuses } = await triggerBurst(() => api, job.id, TRIGGERS, scale(100, 50), { idempotencyKey: () => 'one-key' });
    expect(acknowledged).toHaveLength(TRIGGERS);
    expect(new Set(acknowledged).size).toBe(1);
    expect(statuses[201]).toBe(1);
    expect(await settledJobRuns(job.id, 1)).toEqual({ completed: 1 });
    expect(ep.dispatches).toHaveLength(1);
  } finally {
    await ep.close();
  }
}, 120_000);
