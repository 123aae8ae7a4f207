import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../scripts/stack';

/**
 * `npm run bench`: starts a fresh embedded stack on free loopback ports, runs every benchmark in
 * bench/ against it, prints their tables (JSON lands in bench/results/), and stops the stack.
 */
const ROOT = path.resolve(__dirname, '..');
const BENCHES: [string, string[]][] = [
  ['job-throughput.ts', [process.env.BENCH_JOB_RUNS ?? '500', process.env.BENCH_CLIENTS ?? '20']],
  ['diamond.ts', [process.env.BENCH_DIAMOND_RUNS ?? '10']],
];

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideway-bench-'));
  const key = `tw_bench_${Math.random().toString(36).slice(2)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATA_DIR: dataDir, PORT: String(await freePort()), TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()), BOOTSTRAP_API_KEY: key, LOG_LEVEL: 'warn',
  };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  const log = fs.openSync(path.join(dataDir, 'stack.log'), 'a');
  const stack = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT, env, stdio: ['ignore', log, log] });
  try {
    const ready = path.join(dataDir, 'stack.json');
    const started = Date.now();
    while (!fs.existsSync(ready)) {
      if (stack.exitCode !== null) throw new Error(`stack failed; see ${path.join(dataDir, 'stack.log')}`);
      if (Date.now() - started > 15 * 60_000) throw new Error('stack did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log(`stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB)`);
    for (const [file, args] of BENCHES) {
      console.log(`\n== ${file} ${args.join(' ')}`);
      const res = spawnSync(process.execPath, ['--import', 'tsx', path.join('bench', file), ...args], { cwd: ROOT, env, stdio: 'inherit' });
      if (res.status !== 0) throw new Error(`${file} failed`);
    }
  } finally {
    stack.kill('SIGTERM');
    await new Promise((r) => stack.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err.message ?? err); process.exit(1); });
