import crypto from 'node:crypto';
import { Client as PgClient } from 'pg';
import type { Knex } from '@mikro-orm/knex';
import type { ApiDeps } from '../api/deps';
import type { AuthContext } from '../api/auth';
import { ActionRunService } from '../api/services/action-runs';
import { JobStore, type RunListFilter } from '../db/job-store';
import { initOrm } from '../db/orm';
import { createApiKey, ensureTenant } from '../db/tenancy';
import { ms, pct, stack, writeResult } from './lib';

/**
 * The two run lists at scale. Seeds `rows` runs straight into Postgres with generate_series (a
 * fresh tenant with job, action and automation runs, plus a neighbour tenant so the tenancy
 * predicates matter), then times GET /v1/runs and GET /api/v1/action-runs through the HTTP API:
 * unfiltered, with each documented filter, and `depth` pages deep. For each query it captures the
 * SQL the store issues and prints its EXPLAIN (ANALYZE, BUFFERS). Usage:
 *   npx tsx bench/list.ts [rows=1000000] [reps=30] [depth=200]   (DATA_DIR names the stack)
 * While it seeds, the secondary indexes of `runs` are dropped and rebuilt: run it on a stack of its own.
 */
const total = Number(process.argv[2] ?? 1_000_000);
const reps = Number(process.argv[3] ?? 30);
const depth = Number(process.argv[4] ?? 200);

const DAY_MS = 86_400_000;
const JOB_TYPES = ['invoice', 'refund', 'signup', 'report', 'sync', 'email', 'export', 'import', 'webhook', 'cleanup'];
const ACTION_KINDS_SEEDED = ['http_request', 'dlt_extract', 'duckdb_transform', 'call_agent', 'web_search', 'fetch_page', 'file_sync', 'approval_gate'];

/** A SQL `case` choosing a value by a 0..999 hash against cumulative thresholds. */
const pick = (h: string, table: [number, string][]) => `case ${table.map(([t, v]) => `when ${h} < ${t} then '${v}'`).join(' ')} end`;
// About 1% of runs are active, as in a store that keeps a month of history.
const JOB_STATUS = pick('h1', [[750, 'completed'], [850, 'failed'], [900, 'canceled'], [910, 'dead_letter'], [940, 'timed_out'], [960, 'crashed'],
  [970, 'system_failed'], [989, 'expired'], [993, 'queued'], [996, 'executing'], [998, 'delayed'], [999, 'waiting'], [1000, 'paused']]);
const ACTION_STATUS = pick('h1', [[780, 'completed'], [880, 'failed'], [940, 'cancelled'], [985, 'rejected'], [990, 'running'], [993, 'pending'],
  [995, 'queued'], [998, 'waiting_approval'], [999, 'paused'], [1000, 'pausing']]);
const AUTOMATION_STATUS = pick('h1', [[850, 'completed'], [990, 'failed'], [1000, 'running']]);
const TERMINAL = `('completed','failed','canceled','cancelled','rejected','dead_letter','timed_out','crashed','system_failed','expired')`;

/**
 * One row per i in 1..n, created `step` ms apart (newest last, ids UUIDv7 of created_at). By i % 20:
 * 0-1 job runs and 2 action runs of the other tenant; 3-11 job runs, 12-17 action runs and 18-19
 * automation runs of the bench tenant. In every 8th block of 20, runs 4-11 are children of run 3
 * and 13-17 children of 12. Batches of 200 job runs in every tenth block of 2,000. The oldest 2%
 * of job runs carry a retired metadata value and payload field (matches all at the far end).
 */
const SEED_SQL = `
with p as (select $1::int as n, $2::bigint as t0, $3::bigint as step, $4::uuid as org, $5::uuid as project, $6::uuid as org2,
  $7::uuid as project2, $8::uuid[] as jobs, $9::uuid[] as jobs2, $10::uuid as usr, $11::text as seed, $12::uuid[] as actions),
g as (
  select i, i % 20 as r, (i / 20) % 8 = 0 as family,
    ((hashint8(i::bigint)::bigint & 2147483647) % 1000)::int as h1, ((hashint8(i::bigint + 1000003)::bigint & 2147483647) % 1000)::int as h2,
    ((hashint8(i::bigint + 2000003)::bigint & 2147483647) % 5000)::int as h3, ((hashint8(i::bigint + 3000017)::bigint & 2147483647) % 1000)::int as h4,
    ((hashint8(i::bigint + 4000037)::bigint & 2147483647) % 1000)::int as h5
  from p, generate_series(1, p.n) i
),
k as (
  select g.*,
    case when r in (0, 1) or r between 3 and 11 then 'job' when r = 2 or r between 12 and 17 then 'action' else 'automation' end as kind,
    case when r < 3 then 'other' else 'bench' end as tenant,
    case when family and r between 4 and 11 then i - r + 3 when family and r between 13 and 17 then i - r + 12 end as parent_i
  from g
),
v as (
  select k.*, p.*,
    case kind when 'job' then ${JOB_STATUS} when 'action' then ${ACTION_STATUS} else ${AUTOMATION_STATUS} end as status,
    to_timestamp((p.t0 + i * p.step) / 1000.0) as created_at
  from k, p
)
insert into runs (id, kind, executor, target_id, organization_id, project_id, created_by, status, input, result, error, attempt, max_attempts,
  parent_id, root_id, depth, priority, metadata, trigger_method, trigger_source_type, trigger_source_id, batch_id,
  created_at, updated_at, started_at, completed_at)
select
  (lpad(to_hex(t0 + i * step), 12, '0') || '7' || substr(md5(seed || i), 1, 3) || '8' || substr(md5(seed || i), 4, 15))::uuid,
  kind,
  case kind when 'job' then (case tenant when 'bench' then jobs[1 + h2 % 20] else jobs2[1 + h2 % 5] end)::text
    when 'action' then (array[${ACTION_KINDS_SEEDED.map((a) => `'${a}'`).join(',')}])[1 + (h2 * h2) % ${ACTION_KINDS_SEEDED.length}] end,
  case kind when 'job' then (case tenant when 'bench' then jobs[1 + h2 % 20] else jobs2[1 + h2 % 5] end)
    when 'action' then case when h4 < 500 then actions[1 + h3 % 50] end end,
  case tenant when 'bench' then org else org2 end,
  case tenant when 'bench' then project else project2 end,
  case tenant when 'bench' then usr end,
  status,
  case kind when 'job' then jsonb_build_object('customer', 'cust-' || h3, 'type', (array[${JOB_TYPES.map((t) => `'${t}'`).join(',')}])[1 + h5 % 10],
      'order_id', i, 'items', jsonb_build_array(jsonb_build_object('sku', 'sku-' || (h2 % 300), 'qty', 1 + h1 % 5)),
      'note', repeat('lorem ipsum ', (h4 % 30)::int)) || case when h5 >= 990 then jsonb_build_object('blob', repeat('x', 4000)) else '{}' end
      || case when i <= n / 50 then jsonb_build_object('legacy', true) else '{}' end
    else jsonb_build_object('url', 'https://example.com/api/' || h3, 'method', 'GET') end,
  case when status = 'completed' then jsonb_build_object('ok', true, 'count', h2) end,
  case when status in ('failed', 'dead_letter', 'crashed', 'system_failed') then jsonb_build_object('message', 'upstream answered 500') end,
  case when status in ('delayed', 'queued', 'pending') then 0 else 1 end, 3,
  case when parent_i is not null then (lpad(to_hex(t0 + parent_i * step), 12, '0') || '7' || substr(md5(seed || parent_i), 1, 3) || '8' || substr(md5(seed || parent_i), 4, 15))::uuid end,
  (lpad(to_hex(t0 + coalesce(parent_i, i) * step), 12, '0') || '7' || substr(md5(seed || coalesce(parent_i, i)), 1, 3) || '8' || substr(md5(seed || coalesce(parent_i, i)), 4, 15))::uuid,
  case when parent_i is null then 0 else 1 end,
  case when h5 < 50 then 10 else 0 end,
  case kind when 'job' then jsonb_strip_nulls(jsonb_build_object('env', ${pick('h2', [[500, 'prod'], [750, 'staging'], [850, 'dev']])},
    'customer', 'cust-' || h3, 'region', (array['eu','us','ap'])[1 + h4 % 3], 'priority_tier', case when h4 < 10 then 'gold' end,
    'schema', case when i <= n / 50 then 'v1' end)) else '{}' end,
  case when parent_i is not null then 'spawn' when kind = 'job' then ${pick('h4', [[550, 'manual'], [800, 'cron'], [880, 'event'], [920, 'retry'], [1000, 'workflow']])}
    else ${pick('h4', [[500, 'ui'], [900, 'api'], [1000, 'automation']])} end,
  case when kind <> 'job' and h4 < 500 then 'user' else 'api_key' end,
  case when kind <> 'job' and h4 < 500 and tenant = 'bench' then usr::text end,
  case when tenant = 'bench' and r in (5, 6) and (i / 2000) % 10 = 0 then (substr(md5(seed || 'batch' || (i / 2000)), 1, 12) || '4' || substr(md5(seed || 'batch' || (i / 2000)), 14, 3) || '8' || substr(md5(seed || 'batch' || (i / 2000)), 18, 15))::uuid end,
  created_at, created_at + interval '5 seconds',
  case when status in ('delayed', 'queued', 'pending', 'waiting') then null else created_at + interval '1 second' end,
  case when status in ${TERMINAL} then created_at + make_interval(secs => 2 + h1 % 60) end
from v`;

interface Case {
  name: string;
  url: string;
  /** Calls the store the route calls, with the same filter, so the SQL it issues can be captured. */
  store: () => Promise<unknown>;
  /** For the offset lists: the exact number of matching runs, to check the `total` the API reports. */
  exactTotal?: () => Promise<number>;
}

interface Timing {
  name: string;
  url: string;
  rows: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  total?: { reported: number; exact: number };
  plans: PlanSummary[];
}

interface PlanSummary {
  sql: string;
  execution_ms: number;
  /** Every plan node over `runs`: its type and the index it reads. */
  nodes: string[];
  /** False when any scan of `runs` reads the whole table. */
  uses_index: boolean;
  text: string;
}

async function main() {
  const { apiUrl, databaseUrl } = stack();
  const orm = await initOrm({ databaseUrl, poolMax: 4 });
  const knex = orm.em.getConnection().getKnex();
  const pg = new PgClient({ connectionString: databaseUrl });
  await pg.connect();

  // A fresh tenant each time, so a rerun on the same stack measures the same shape of data.
  const seed = crypto.randomBytes(4).toString('hex');
  const tenant = await ensureTenant(knex, { organizationName: `bench-list-${seed}`, firstName: 'Bench', lastName: 'User' });
  const other = await ensureTenant(knex, { organizationName: `bench-list-${seed}-neighbour` });
  const key = await createApiKey(knex, tenant, { name: 'bench-list' });
  const get = async (url: string) => {
    const t = performance.now();
    const res = await fetch(apiUrl + url, { headers: { authorization: `Bearer ${key}` } });
    const body = await res.json() as unknown;
    const took = performance.now() - t;
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${JSON.stringify(body)}`);
    return { took, body, next: res.headers.get('x-next-cursor') };
  };
  const post = async (url: string, body: unknown) => {
    const res = await fetch(apiUrl + url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<{ id: string }>;
  };
  const jobs: string[] = [];
  for (let j = 0; j < 20; j++) jobs.push((await post('/v1/jobs', { name: `bench-list-${j}`, slug: `bench-list-${seed}-${j}`, endpoint_url: 'http://127.0.0.1:9/noop' })).id);
  const jobs2 = Array.from({ length: 5 }, () => crypto.randomUUID());
  const actions = Array.from({ length: 50 }, () => crypto.randomUUID());

  // Within the retention window, so housekeeping does not purge the seed while it is measured.
  const spanDays = Math.max(1, Number(process.env.RUN_RETENTION_DAYS ?? 30) - 2);
  const step = Math.max(1, Math.floor((spanDays * DAY_MS) / total));
  const t0 = Date.now() - total * step - 60_000;
  console.log(`seeding ${total.toLocaleString()} runs over ${spanDays} days ...`);
  const seedStart = performance.now();
  const indexes = await dropSecondaryIndexes(pg);
  try {
    const superuser = (await pg.query('select rolsuper from pg_roles where rolname = current_user')).rows[0]?.rolsuper === true;
    // Foreign keys hold by construction; skipping their per-row triggers is the usual bulk-load shortcut.
    if (superuser) await pg.query('set session_replication_role = replica');
    await pg.query(SEED_SQL, [total, t0, step, tenant.organizationId, tenant.projectId, other.organizationId, other.projectId, jobs, jobs2, tenant.userId, seed, actions]);
    if (superuser) await pg.query('set session_replication_role = origin');
  } finally {
    await recreateIndexes(databaseUrl, indexes);
  }
  const insertedIn = performance.now() - seedStart;
  await pg.query('vacuum (analyze) runs');
  const seededIn = performance.now() - seedStart;
  const { rows: [size] } = await pg.query(`select pg_size_pretty(pg_total_relation_size('runs')) as total, pg_size_pretty(pg_relation_size('runs')) as heap,
    (select count(*) from runs) as runs`);
  console.log(`seeded in ${(seededIn / 1000).toFixed(1)} s (insert and index ${(insertedIn / 1000).toFixed(1)} s, vacuum analyze ${((seededIn - insertedIn) / 1000).toFixed(1)} s); `
    + `runs table ${size.total} (heap ${size.heap}), ${Number(size.runs).toLocaleString()} rows in all`);

  // Values that pick out few, some and many rows of the bench tenant.
  const pickOne = async (sql: string, vals: unknown[] = []) => (await pg.query(sql, vals)).rows[0];
  const parent = await pickOne(`select parent_id as id from runs where project_id = $1 and kind = 'job' and parent_id is not null order by created_at desc limit 1`, [tenant.projectId]);
  const actionParent = await pickOne(`select parent_id as id from runs where organization_id = $1 and kind = 'action' and parent_id is not null order by created_at desc limit 1`, [tenant.organizationId]);
  const batch = await pickOne(`select batch_id as id from runs where project_id = $1 and batch_id is not null order by created_at limit 1`, [tenant.projectId]);
  const action = await pickOne(`select target_id as id from runs where organization_id = $1 and kind = 'action' and target_id is not null limit 1`, [tenant.organizationId]);
  const oldest = await pickOne(`select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at from runs
    where project_id = $1 and kind = 'job' order by created_at limit 1 offset 50`, [tenant.projectId]);

  const jobStore = new JobStore(knex);
  const actionSvc = new ActionRunService({ knex } as ApiDeps);
  const auth = { organizationId: tenant.organizationId, projectId: tenant.projectId, userId: tenant.userId } as AuthContext;
  const jobCase = (name: string, q: Record<string, string>, extra: Partial<RunListFilter> = {}, path = '/v1/runs'): Case => ({
    name: `GET ${path === '/v1/runs' ? path : path.replace(/[0-9a-f-]{36}/, '{id}')} ${name}`,
    url: `${path}?${new URLSearchParams(q)}`,
    store: () => jobStore.listRuns({
      projectId: tenant.projectId, status: q.status, jobId: q.job_id, metadataKey: q.metadata_key, metadataValue: q.metadata_value,
      triggeredBy: q.triggered_by, batchId: q.batch_id, payloadContains: q.payload_contains ? JSON.parse(q.payload_contains) : undefined,
      cursor: q.cursor, limit: Number(q.limit ?? 50) + 1, ...extra,
    }),
  });
  const actionCase = (name: string, q: Record<string, string>): Case => ({
    name: `GET /api/v1/action-runs ${name}`,
    url: `/api/v1/action-runs?${new URLSearchParams(q)}`,
    store: async () => {
      const { runs } = await actionSvc.list(auth, {
        actionId: q.action_id, kind: q.kind, status: q.status, parentActionRunId: q.parent_action_run_id, limit: Number(q.limit ?? 100), offset: Number(q.offset ?? 0),
      });
      await actionSvc.users(auth, [...new Set(runs.flatMap((r) => (r.triggerSourceType === 'user' && r.triggerSourceId ? [r.triggerSourceId] : [])))]);
    },
    exactTotal: async () => {
      const cols: Record<string, string> = { action_id: 'target_id', kind: 'executor', status: 'status', parent_action_run_id: 'parent_id' };
      const filters = Object.entries(q).filter(([k]) => cols[k]);
      const sql = `select count(*)::int as n from runs where organization_id = $1 and kind = 'action' ${filters.map(([k], i) => `and ${cols[k]} = $${i + 2}`).join(' ')}`;
      return (await pg.query(sql, [tenant.organizationId, ...filters.map(([, v]) => v)])).rows[0].n as number;
    },
  });

  // Deep pages: follow the cursor `depth` pages down, timing each page.
  const deepJob: number[] = [];
  let cursor: string | null = null;
  for (let pageNo = 0; pageNo < depth; pageNo++) {
    const r: { took: number; next: string | null } = await get(`/v1/runs?${new URLSearchParams(cursor ? { cursor } : {})}`);
    deepJob.push(r.took);
    if (!r.next) break;
    cursor = r.next;
  }
  const deepCursor = cursor!;
  const deepAction: number[] = [];
  for (let pageNo = 0; pageNo < depth; pageNo++) deepAction.push((await get(`/api/v1/action-runs?offset=${pageNo * 100}`)).took);

  const cases: Case[] = [
    { name: 'GET /v1/runs/{id} (one run: the HTTP floor)', url: `/v1/runs/${parent.id}`, store: () => jobStore.knex.raw('select * from runs where id = ?', [parent.id]) },
    jobCase('unfiltered', {}),
    jobCase('limit=100', { limit: '100' }),
    jobCase('status=completed (75%)', { status: 'completed' }),
    jobCase('status=dead_letter (1%)', { status: 'dead_letter' }),
    jobCase('job_id (1 of 20)', { job_id: jobs[7] }),
    jobCase('job_id + status=failed', { job_id: jobs[7], status: 'failed' }),
    jobCase('metadata env=prod (50%)', { metadata_key: 'env', metadata_value: 'prod' }),
    jobCase('metadata customer=cust-42 (0.02%)', { metadata_key: 'customer', metadata_value: 'cust-42' }),
    jobCase('metadata_key=env (85%)', { metadata_key: 'env' }),
    jobCase('metadata_key=priority_tier (1%)', { metadata_key: 'priority_tier' }),
    jobCase('metadata_key=absent (0%)', { metadata_key: 'no_such_key' }),
    jobCase('metadata schema=v1 (2%, oldest only)', { metadata_key: 'schema', metadata_value: 'v1' }),
    jobCase('metadata_key=schema (2%, oldest only)', { metadata_key: 'schema' }),
    jobCase('triggered_by=cron (25%)', { triggered_by: 'cron' }),
    jobCase('triggered_by=spawn (4%)', { triggered_by: 'spawn' }),
    jobCase('batch_id', { batch_id: batch.id }),
    jobCase('payload_contains type (10%)', { payload_contains: JSON.stringify({ type: 'invoice' }) }),
    jobCase('payload_contains customer (0.02%)', { payload_contains: JSON.stringify({ customer: 'cust-42' }) }),
    jobCase('payload_contains type+customer (0.002%)', { payload_contains: JSON.stringify({ type: 'refund', customer: 'cust-4242' }) }),
    jobCase('payload_contains absent (0%)', { payload_contains: JSON.stringify({ type: 'no-such-type' }) }),
    jobCase('payload_contains legacy (2%, oldest only)', { payload_contains: JSON.stringify({ legacy: true }) }),
    jobCase(`cursor ${depth} pages deep`, { cursor: deepCursor }),
    jobCase('cursor at the oldest page', { cursor: oldest.at }),
    jobCase('status=completed, cursor deep', { status: 'completed', cursor: deepCursor }),
    jobCase('', {}, { status: 'dead_letter' }, '/v1/runs/dlq'),
    jobCase('', {}, { parentId: parent.id }, `/v1/runs/${parent.id}/children`),
    actionCase('unfiltered', {}),
    actionCase('action_id', { action_id: action.id }),
    actionCase('kind=http_request', { kind: 'http_request' }),
    actionCase('kind=approval_gate', { kind: 'approval_gate' }),
    actionCase('status=completed (78%)', { status: 'completed' }),
    actionCase('status=waiting_approval (0.3%)', { status: 'waiting_approval' }),
    actionCase('parent_action_run_id', { parent_action_run_id: actionParent.id }),
    actionCase(`offset=${(depth - 1) * 100} (page ${depth})`, { offset: String((depth - 1) * 100) }),
    actionCase('kind + status', { kind: 'http_request', status: 'failed' }),
  ];

  const captured: { sql: string; bindings: unknown[] }[] = [];
  knex.on('query', (q: { sql: string; bindings?: unknown[] }) => captured.push({ sql: q.sql, bindings: q.bindings ?? [] }));
  const results: Timing[] = [];
  for (const c of cases) {
    for (let w = 0; w < 2; w++) await get(c.url);
    const times: number[] = [];
    let rows = 0;
    let body: unknown;
    for (let i = 0; i < reps; i++) {
      const r = await get(c.url);
      times.push(r.took);
      body = r.body;
      rows = Array.isArray(body) ? body.length : 'runs' in (body as object) ? (body as { runs: unknown[] }).runs.length : 1;
    }
    const total = c.exactTotal ? { reported: (body as { total: number }).total, exact: await c.exactTotal() } : undefined;
    captured.length = 0;
    await c.store();
    const plans: PlanSummary[] = [];
    for (const q of captured.splice(0)) if (!/^\s*explain/i.test(q.sql)) plans.push(await explain(pg, q.sql, q.bindings));
    results.push({ name: c.name, url: c.url, rows, total, p50_ms: ms(pct(times, 50)), p99_ms: ms(pct(times, 99)), max_ms: ms(Math.max(...times)), plans });
  }

  for (const r of results) {
    console.log(`\n-- ${r.name}   (${r.url})`);
    for (const p of r.plans) console.log(`${p.sql}\n${p.text}`);
  }
  console.table(Object.fromEntries(results.map((r) => [r.name, {
    rows: r.rows, total: r.total ? `${r.total.reported}${r.total.reported === r.total.exact ? '' : ` (exact ${r.total.exact})`}` : '', 'p50 ms': r.p50_ms, 'p99 ms': r.p99_ms,
    'sql ms': r.plans.map((p) => ms(p.execution_ms)).join(' + '),
    'index used': r.plans.every((p) => p.uses_index) ? 'yes' : 'NO',
    plan: [...new Set(r.plans.flatMap((p) => p.nodes))].join(', '),
  }])));
  const at = (xs: number[], n: number) => ms(xs[Math.min(n, xs.length) - 1]);
  const deep = {
    job_runs_cursor: { pages: deepJob.length, page_limit: 50, first_ms: at(deepJob, 1), at_50_ms: at(deepJob, 50), at_100_ms: at(deepJob, 100), last_ms: at(deepJob, deepJob.length), p50_ms: ms(pct(deepJob, 50)), p99_ms: ms(pct(deepJob, 99)) },
    action_runs_offset: { pages: deepAction.length, page_limit: 100, first_ms: at(deepAction, 1), at_50_ms: at(deepAction, 50), at_100_ms: at(deepAction, 100), last_ms: at(deepAction, deepAction.length), p50_ms: ms(pct(deepAction, 50)), p99_ms: ms(pct(deepAction, 99)) },
  };
  console.table(deep);

  writeResult('list', {
    benchmark: 'list', rows: total, span_days: spanDays, reps, depth, seed_seconds: Number((seededIn / 1000).toFixed(1)), runs_table: size.total,
    queries: results.map(({ plans, ...r }) => ({ ...r, plans: plans.map(({ text: _t, ...p }) => ({ ...p, execution_ms: ms(p.execution_ms) })) })),
    deep_pages: deep,
    slowest_p99_ms: Math.max(...results.map((r) => r.p99_ms)),
  });
  await pg.end();
  await orm.close();
}

/**
 * Drops the secondary indexes of `runs` (not the primary key nor unique ones, which writers rely
 * on) and returns their definitions: building them once after the load is several times faster
 * than maintaining them row by row.
 */
async function dropSecondaryIndexes(pg: PgClient): Promise<{ name: string; def: string }[]> {
  const { rows } = await pg.query(`select c.relname as name, pg_get_indexdef(i.indexrelid) as def from pg_index i join pg_class c on c.oid = i.indexrelid
    where i.indrelid = 'runs'::regclass and not i.indisunique and not i.indisprimary`);
  await pg.query(`drop index ${rows.map((r) => `"${r.name}"`).join(', ')}`);
  return rows;
}

/** Builds the indexes again, on two connections at once. */
async function recreateIndexes(databaseUrl: string, indexes: { name: string; def: string }[]): Promise<void> {
  const queue = [...indexes];
  await Promise.all([0, 1].map(async () => {
    const pg = new PgClient({ connectionString: databaseUrl });
    await pg.connect();
    await pg.query(`set maintenance_work_mem = '256MB'`);
    for (let next = queue.shift(); next; next = queue.shift()) await pg.query(next.def);
    await pg.end();
  }));
}

/** EXPLAIN (ANALYZE, BUFFERS) of one captured statement: its text plan and the scans it makes over `runs`. */
async function explain(pg: PgClient, sql: string, bindings: unknown[]): Promise<PlanSummary> {
  const { rows: [json] } = await pg.query(`explain (analyze, buffers, format json) ${sql}`, bindings);
  const { rows: text } = await pg.query(`explain (analyze, buffers) ${sql}`, bindings);
  const nodes: string[] = [];
  let usesIndex = true;
  const walk = (n: Record<string, any>, underRuns = false) => {
    const onRuns = n['Relation Name'] === 'runs' || (underRuns && n['Node Type'] === 'Bitmap Index Scan');
    if (onRuns) {
      nodes.push(n['Index Name'] ? `${n['Node Type']} ${n['Index Name']}` : n['Node Type']);
      if (n['Node Type'] === 'Seq Scan') usesIndex = false;
    }
    for (const child of n.Plans ?? []) walk(child, onRuns || (underRuns && n['Node Type'].startsWith('Bitmap')));
  };
  const plan = (json['QUERY PLAN'] as Record<string, any>[])[0];
  walk(plan.Plan);
  return {
    sql: sql.replace(/\s+/g, ' ').trim(), execution_ms: plan['Execution Time'], nodes, uses_index: usesIndex,
    text: text.map((r) => `  ${r['QUERY PLAN']}`).join('\n'),
  };
}

main().catch((err) => { console.error(err); process.exit(1); });
