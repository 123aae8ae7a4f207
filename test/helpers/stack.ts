import { spawn, type ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import fs from 'node:fs';
import path from 'node:path';
import { initOrm, type Orm } from '../../db/orm';
import { createApiKey, ensureTenant, type Tenant } from '../../db/tenancy';

export interface TestStack {
  apiUrl: string;
  apiKey: string;
  databaseUrl: string;
  temporalAddress: string;
  temporalUiUrl: string;
  namespace: string;
  taskQueue: string;
  dataDir: string;
}

export function testStack(): TestStack {
  const raw = process.env.TIDEWAY_TEST_STACK;
  if (!raw) throw new Error('integration tests need the stack from test/helpers/global-setup.ts');
  return JSON.parse(raw) as TestStack;
}

export interface Response<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A thin HTTP client for one API key, as any client of the documented API would be. */
export function client(apiKey: string | null = testStack().apiKey, base = testStack().apiUrl) {
  const request = async <T = any>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response<T>> => {
    const res = await fetch(base + url, {
      method,
      headers: {
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    request,
    get: <T = any>(url: string, headers?: Record<string, string>) => request<T>('GET', url, undefined, headers),
    post: <T = any>(url: string, body?: unknown, headers?: Record<string, string>) => request<T>('POST', url, body, headers),
    delete: <T = any>(url: string) => request<T>('DELETE', url),
  };
}
export type Api = ReturnType<typeof client>;

let orm: Orm | null = null;
async function db(): Promise<Orm> {
  orm ??= await initOrm({ databaseUrl: testStack().databaseUrl, poolMax: 2 });
  return orm;
}
export async function closeDb(): Promise<void> {
  await orm?.close();
  orm = null;
}

/** A fresh organization with its own project, admin user and key: tests do not see each other's runs. */
export async function newTenant(name: string, opts: { taskQueue?: string; userEmail?: string } = {}): Promise<{ api: Api; key: string; tenant: Tenant }> {
  const knex = (await db()).em.getConnection().getKnex();
  const tenant = await ensureTenant(knex, { organizationName: `${name}-${Math.random().toString(36).slice(2, 8)}`, taskQueue: opts.taskQueue, userEmail: opts.userEmail });
  const key = await createApiKey(knex, tenant, { name: 'test' });
  return { api: client(key), key, tenant };
}

/** A second user (and key) in the same organization and project. */
export async function secondUser(tenant: Tenant): Promise<Api> {
  const knex = (await db()).em.getConnection().getKnex();
  const user = await knex.raw(
    `insert into users (id, organization_id, email, first_name, role) values (gen_random_uuid(), ?, ?, 'Second', 'member') returning id`,
    [tenant.organizationId, `second-${Math.random().toString(36).slice(2)}@example.com`],
  );
  const key = await createApiKey(knex, { ...tenant, userId: user.rows[0].id }, { name: 'second' });
  return client(key);
}

/** Another project (and key) of the same organization and user: on /v1 it sees nothing of the first. */
export async function secondProject(tenant: Tenant): Promise<{ api: Api; key: string; tenant: Tenant }> {
  const knex = (await db()).em.getConnection().getKnex();
  const slug = `second-${Math.random().toString(36).slice(2, 8)}`;
  const project = await knex.raw('insert into projects (id, organization_id, name, slug) values (gen_random_uuid(), ?, ?, ?) returning id', [tenant.organizationId, slug, slug]);
  const other = { ...tenant, projectId: project.rows[0].id as string };
  const key = await createApiKey(knex, other, { name: slug });
  return { api: client(key), key, tenant: other };
}

export async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const started = Date.now();
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  return last;
}

/** Polls a run until its status is one of `statuses`. */
export function waitForStatus(api: Api, runId: string, statuses: string | string[], timeoutMs = 30_000) {
  const want = Array.isArray(statuses) ? statuses : [statuses];
  return waitFor(
    async () => (await api.get(`/api/v1/action-runs/${runId}`)).body,
    (run) => want.includes(run?.status),
    timeoutMs,
    `run ${runId} to be ${want.join('|')}`,
  ).then((run) => run);
}

/** A worker process of our own, on a task queue of our own, that a test may kill. */
export function spawnWorker(taskQueue: string, name: string, env: Record<string, string> = {}): ChildProcess {
  const s = testStack();
  const log = fs.openSync(path.join(s.dataDir, `${name}.log`), 'a');
  return spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: path.resolve(__dirname, '../..'),
    env: {
      ...process.env, DATABASE_URL: s.databaseUrl, TEMPORAL_ADDRESS: s.temporalAddress, TEMPORAL_NAMESPACE: s.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue, WORKER_ID: name, TIDEWAY_SKIP_MIGRATIONS: '1', LOG_LEVEL: 'info', ...env,
    },
    stdio: ['ignore', log, log],
  });
}

/** Creates and executes a run, returning the created run. */
export async function startRun(api: Api, kind: string, definition: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const created = await api.post('/api/v1/action-runs', { kind, definition, ...extra });
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
  const executed = await api.post(`/api/v1/action-runs/${created.body.id}/execute`);
  if (executed.status !== 200) throw new Error(`execute failed: ${executed.status} ${JSON.stringify(executed.body)}`);
  return executed.body;
}

/** Another API process against the same Postgres and Temporal, as a horizontally scaled deployment runs. */
export async function spawnApi(port: number, name: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const s = testStack();
  const log = fs.openSync(path.join(s.dataDir, `${name}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/server.ts'], {
    cwd: path.resolve(__dirname, '../..'),
    env: {
      ...process.env, DATABASE_URL: s.databaseUrl, TEMPORAL_ADDRESS: s.temporalAddress, TEMPORAL_NAMESPACE: s.namespace,
      TEMPORAL_TASK_QUEUE: s.taskQueue, PORT: String(port), TIDEWAY_SKIP_MIGRATIONS: '1', ACTIVITY_HEARTBEAT_TIMEOUT_SECS: '3', LOG_LEVEL: 'warn', ...env,
    },
    stdio: ['ignore', log, log],
  });
  await waitFor(
    async () => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status).catch(() => 0),
    (status) => status === 200 || child.exitCode !== null,
    60_000,
    `${name} to be ready`,
  );
  if (child.exitCode !== null) throw new Error(`${name} exited during start-up`);
  return child;
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/** Direct SQL on the stack's database, for tests that stage what the API cannot (old rows, lost workflows). */
export async function sql(text: string, bindings: unknown[] = []): Promise<any[]> {
  const knex = (await db()).em.getConnection().getKnex();
  return (await knex.raw(text, bindings as never)).rows;
}

/** A Temporal client on the stack's server and namespace; the caller closes its connection. */
export async function temporalClient(): Promise<Client> {
  return new Client({ connection: await Connection.connect({ address: testStack().temporalAddress }), namespace: testStack().namespace });
}
