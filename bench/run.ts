import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { startThrowawayStack } from '../scripts/throwaway-stack';

/**
 * `npm run bench`: starts a fresh embedded stack on free loopback ports, runs every benchmark in
 * bench/ against it, prints their tables (JSON lands in bench/results/), and stops the stack.
 * `npm run bench -- throughput list` runs only those.
 */
const ROOT = path.resolve(__dirname, '..');
const env = process.env;
/** In order: footprint first (idle) and last (after every load); list last of the loads (it leaves 1M rows behind). */
const BENCHES: [string, string[]][] = [
  ['footprint.ts', ['idle']],
  ['throughput.ts', ['job', env.BENCH_JOB_RUNS ?? '2000', env.BENCH_CLIENTS ?? '20']],
  ['throughput.ts', ['action', env.BENCH_ACTION_RUNS ?? '500', env.BENCH_CLIENTS ?? '20']],
  ['throughput.ts', ['automation', env.BENCH_AUTOMATION_RUNS ?? '200', env.BENCH_CLIENTS ?? '20']],
  ['diamond.ts', [env.BENCH_DIAMOND_RUNS ?? '10']],
  ['trigger.ts', [env.BENCH_TRIGGER_CLIENTS ?? '50', env.BENCH_TRIGGER_SECONDS ?? '30']],
  ['stream.ts', [env.BENCH_STREAM_SUBSCRIBERS ?? '2000', '20', '2', '20']],
  ['list.ts', [env.BENCH_LIST_ROWS ?? '1000000']],
  ['footprint.ts', ['loaded']],
];
const only = process.argv.slice(2);

async function main() {
  const stack = await startThrowawayStack({ prefix: 'tideway-bench' });
  try {
    console.log(`stack ready in ${(stack.startedInMs / 1000).toFixed(1)} s (${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB)`);
    for (const [file, args] of BENCHES.filter(([f]) => only.length === 0 || only.includes(f.replace(/\.ts$/, '')))) {
      console.log(`\n== ${file} ${args.join(' ')}`);
      const res = spawnSync(process.execPath, ['--import', 'tsx', path.join('bench', file), ...args], { cwd: ROOT, env: stack.env, stdio: 'inherit' });
      if (res.status !== 0) throw new Error(`${file} failed`);
    }
  } finally {
    await stack.stop();
  }
}

main().catch((err) => { console.error(err.message ?? err); process.exit(1); });
