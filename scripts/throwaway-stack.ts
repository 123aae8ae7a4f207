import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './stack';

/**
 * A fresh embedded stack on free loopback ports in a temporary DATA_DIR, started with the same
 * launcher as `npm start` (scripts/start.ts) and a known API key: what the tests, the benchmarks
 * and the fuzzer run against. `stop()` stops it as Ctrl-C would and removes its data.
 */
export interface ThrowawayStack {
  apiUrl: string;
  apiKey: string;
  dataDir: string;
  /** Everything the launcher wrote to stack.json (apiUrl, databaseUrl, temporalAddress, ...). */
  info: Record<string, unknown>;
  launcher: ChildProcess;
  /** The environment the stack was started with, for tools that talk to it (DATA_DIR, PORT, ...). */
  env: NodeJS.ProcessEnv;
  startedInMs: number;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

const ROOT = path.resolve(__dirname, '..');

export async function startThrowawayStack(opts: { prefix: string; env?: Record<string, string>; timeoutMs?: number }): Promise<ThrowawayStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${opts.prefix}-`));
  const apiKey = `tw_${opts.prefix.replace(/\W/g, '_')}_${Math.random().toString(36).slice(2)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    BOOTSTRAP_API_KEY: apiKey,
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  const logFile = path.join(dataDir, 'launcher.log');
  const log = fs.openSync(logFile, 'a');
  const launcher = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT, env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise((resolve) => launcher.once('exit', resolve));
  const stop = async ({ keepData = false } = {}) => {
    if (launcher.exitCode === null && launcher.signalCode === null) {
      launcher.kill('SIGTERM');
      const timer = setTimeout(() => launcher.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (!keepData) fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const readyFile = path.join(dataDir, 'stack.json');
  const timeoutMs = opts.timeoutMs ?? 15 * 60_000;
  const started = Date.now();
  let info: Record<string, unknown> | null = null;
  while (!(info = readStackInfo(readyFile))) {
    const failed = launcher.exitCode !== null ? 'failed to start' : Date.now() - started > timeoutMs ? `did not start within ${timeoutMs / 1000} s` : null;
    if (failed) {
      const tail = fs.readFileSync(logFile, 'utf8').slice(-4000);
      await stop({ keepData: true });
      throw new Error(`stack ${failed}; see ${logFile}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { apiUrl: String(info.apiUrl), apiKey, dataDir, info, launcher, env, startedInMs: Date.now() - started, stop };
}

/** stack.json once the launcher has written it whole. */
function readStackInfo(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}
