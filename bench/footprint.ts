import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../scripts/stack';
import { startThrowawayStack } from '../scripts/throwaway-stack';
import { stack, writeResult } from './lib';

/**
 * `footprint`: memory and start-up of the parts. `idle` (run first by `npm run bench`): RSS of the
 * stack's API and worker before any load; start-up time and RSS of a fresh API and worker, both as
 * run in development (tsx; webpack bundles the workflows at start) and in production (compiled
 * JavaScript, the prebuilt workflow bundle, as in the Dockerfile); `npm start` to ready on a fresh
 * data directory. `loaded` (run last): RSS now and at its peak of the API and worker that served
 * every benchmark. Usage: tsx bench/footprint.ts idle|loaded
 */
const ROOT = path.resolve(__dirname, '..');
const phase = process.argv[2] ?? 'idle';
const mib = (kb: number) => Math.round(kb / 1024);

function memory(pid: number): { rss_mib: number; peak_rss_mib: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss_mib: mib(field('VmRSS')), peak_rss_mib: mib(field('VmHWM')) };
}

function stackPids(): { api: number; worker: number } {
  const info = stack() as { apiPid?: number; workerPids?: number[] };
  if (!info.apiPid || !info.workerPids?.length) throw new Error('stack.json has no apiPid/workerPids: start the stack with this version of npm start');
  return { api: info.apiPid, worker: info.workerPids[0] };
}

/** Starts a process and resolves with the milliseconds until `ready()` holds, and the process. */
async function timeStart(cmd: string[], env: NodeJS.ProcessEnv, ready: (out: string) => Promise<boolean> | boolean): Promise<{ ms: number; child: ChildProcess }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  while (!(await ready(out))) {
    if (child.exitCode !== null) throw new Error(`${cmd.join(' ')} exited: ${out.slice(-2000)}`);
    if (Date.now() - t0 > 180_000) throw new Error(`${cmd.join(' ')} did not start: ${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ms: Date.now() - t0, child };
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function startUp(mode: 'tsx' | 'compiled') {
  const s = stack();
  const base = { DATABASE_URL: s.databaseUrl, TEMPORAL_ADDRESS: s.temporalAddress, TEMPORAL_NAMESPACE: s.namespace ?? 'default', TIDEWAY_SKIP_MIGRATIONS: '1', LOG_LEVEL: 'info' };
  const entry = (file: string) => (mode === 'tsx' ? ['--import', 'tsx', `${file}.ts`] : [path.join('dist', `${file}.js`)]);
  const port = await freePort();
  const api = await timeStart(entry('api/server'), { ...base, PORT: String(port) },
    () => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false));
  await new Promise((r) => setTimeout(r, 1000));
  const apiMem = memory(api.child.pid!);
  await stopChild(api.child);
  const bundle = mode === 'compiled' ? { WORKFLOW_BUNDLE_PATH: path.join(ROOT, 'dist', 'workflow-bundle.js') } : {};
  const worker = await timeStart(entry('worker/main'), { ...base, ...bundle, TEMPORAL_TASK_QUEUE: `footprint-${mode}-${Date.now()}` }, (out) => out.includes('worker started'));
  await new Promise((r) => setTimeout(r, 1000));
  const workerMem = memory(worker.child.pid!);
  await stopChild(worker.child);
  return { api: { start_ms: api.ms, ...apiMem }, worker: { start_ms: worker.ms, ...workerMem } };
}

async function main() {
  const file = path.join(__dirname, 'results', 'footprint.json');
  const previous = phase === 'loaded' && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const pids = stackPids();
  if (phase === 'loaded') {
    const result = { ...previous, benchmark: 'footprint', loaded: { api: memory(pids.api), worker: memory(pids.worker) } };
    console.table({ 'API after every benchmark': result.loaded.api, 'worker after every benchmark': result.loaded.worker });
    writeResult('footprint', result);
    return;
  }
  const idle = { api: memory(pids.api), worker: memory(pids.worker) };
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const dev = await startUp('tsx');
  const prod = await startUp('compiled');
  const fresh = await startThrowawayStack({ prefix: 'tideway-footprint' });
  const npmStartMs = fresh.startedInMs;
  await fresh.stop();
  const result = {
    benchmark: 'footprint', machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    idle, start_up: { development_tsx: dev, production_compiled: prod }, npm_start_to_ready_ms: npmStartMs,
  };
  console.table({
    'API, idle (stack)': idle.api, 'worker, idle (stack)': idle.worker,
  });
  console.table({
    'API (tsx)': dev.api, 'API (compiled)': prod.api,
    'worker (tsx, webpack at start)': dev.worker, 'worker (compiled, prebuilt bundle)': prod.worker,
  });
  console.log(`npm start to ready on a fresh data directory: ${(npmStartMs / 1000).toFixed(1)} s`);
  writeResult('footprint', result);
}
main().catch((err) => { console.error(err); process.exit(1); });
