import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { initOrm } from '../db/orm';
import { createApiKey, ensureTenant } from '../db/tenancy';
import { startThrowawayStack, type ThrowawayStack } from './throwaway-stack';

/**
 * `npm run fuzz [-- --short] [--seed N] [--max-examples N]`: Schemathesis generates requests for every operation of /openapi.json
 * and checks each answer against the document: no 5xx, only documented statuses, content types and
 * bodies, invalid input refused and valid input accepted. Schemathesis comes from PyPI into a venv
 * under .cache on first use. Without FUZZ_API_URL and FUZZ_API_KEY it fuzzes a throwaway stack.
 *
 * Fuzzed runs are executed, and call whatever URLs were generated: the stack's workers must run with
 * EGRESS=loopback (the throwaway stack's and the test stack's do), or the key's project must have a
 * task queue that no worker polls.
 */
export const SCHEMATHESIS_VERSION = '4.32.5';
const ROOT = path.resolve(__dirname, '..');
const VENV = path.join(ROOT, '.cache', 'schemathesis-venv');
const WORK_DIR = path.join(ROOT, '.cache', 'fuzz');
const CONFIG = path.join(__dirname, 'fuzz.toml');
/** Full run: enough examples per operation for well over 5,000 requests in all. Short run (CI): a few hundred. */
const FULL = { phases: 'examples,coverage,fuzzing,stateful', maxExamples: 50, minRequests: 5000 };
const SHORT = { phases: 'examples,fuzzing,stateful', maxExamples: 5, minRequests: 0 };

export interface FuzzOptions {
  apiUrl: string;
  apiKey: string;
  short?: boolean;
  maxExamples?: number;
  seed?: string;
  /** Schemathesis's output as it comes (the whole of it is in the result either way). */
  onOutput?: (text: string) => void;
}

export interface FuzzResult {
  ok: boolean;
  exitCode: number | null;
  /** Test cases (requests) Schemathesis generated, from its summary. */
  generated: number | null;
  seconds: number;
  output: string;
  /** Why the run failed besides Schemathesis's own verdict (too few requests). */
  problem: string | null;
}

function run(cmd: string, args: string[]): { status: number | null; output: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: res.error ? null : res.status, output: `${res.stdout ?? ''}${res.stderr ?? ''}${res.error ? String(res.error) : ''}` };
}

/** The pinned Schemathesis in .cache/schemathesis-venv, installed (once) from PyPI when missing. */
export function ensureSchemathesis(log: (m: string) => void = console.error): string {
  const bin = path.join(VENV, 'bin', 'schemathesis');
  const marker = path.join(VENV, '.installed-version');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === SCHEMATHESIS_VERSION && fs.existsSync(bin)) return bin;

  const python = process.env.PYTHON ?? 'python3';
  const version = run(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2]); sys.exit(0 if sys.version_info >= (3, 11) else 3)']);
  if (version.status === null) throw new Error(`${python} not found: Schemathesis needs Python 3.11 or newer (apt-get install python3 python3-venv)`);
  if (version.status !== 0) throw new Error(`Schemathesis ${SCHEMATHESIS_VERSION} needs Python 3.11 or newer; ${python} is ${version.output.trim()} (set PYTHON to another interpreter)`);

  log(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${path.relative(ROOT, VENV)} (once)`);
  fs.rmSync(VENV, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(VENV), { recursive: true });
  const venv = run(python, ['-m', 'venv', VENV]);
  if (venv.status !== 0) {
    throw new Error(`"${python} -m venv" failed; install the venv module (apt-get install python3-venv):\n${venv.output.trim()}`);
  }
  const pip = run(path.join(VENV, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`]);
  if (pip.status !== 0) {
    fs.rmSync(VENV, { recursive: true, force: true });
    throw new Error(`pip could not install schemathesis==${SCHEMATHESIS_VERSION} (is PyPI reachable? is pip in the venv, i.e. python3-venv installed?):\n${pip.output.trim()}`);
  }
  fs.writeFileSync(marker, `${SCHEMATHESIS_VERSION}\n`);
  return bin;
}

/** A key of a fresh organization, so the fuzzer sees (and bulk-cancels) only what it created. */
export async function fuzzTenantKey(databaseUrl: string): Promise<string> {
  const orm = await initOrm({ databaseUrl, poolMax: 1 });
  try {
    const knex = orm.em.getConnection().getKnex();
    const suffix = Math.random().toString(36).slice(2, 10);
    const tenant = await ensureTenant(knex, { organizationName: `fuzz-${suffix}` });
    return await createApiKey(knex, tenant, { name: 'fuzz' });
  } finally {
    await orm.close();
  }
}

/** Runs Schemathesis against a running API; never throws for failures it finds (see `ok`). */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const bin = ensureSchemathesis();
  const mode = opts.short ? SHORT : FULL;
  const reportDir = path.join(WORK_DIR, 'report');
  fs.mkdirSync(reportDir, { recursive: true });
  const args = [
    '--config-file', CONFIG,
    'run', `${opts.apiUrl.replace(/\/$/, '')}/openapi.json`,
    '--header', `Authorization: Bearer ${opts.apiKey}`,
    '--phases', mode.phases,
    '--max-examples', String(opts.maxExamples ?? mode.maxExamples),
    '--no-color',
    '--report', 'junit', '--report-dir', reportDir,
    ...(opts.seed ? ['--seed', opts.seed] : []),
  ];
  const started = Date.now();
  // The checks are in fuzz.toml (some operations leave one out); on the command line they would override it.
  // Run in .cache/fuzz: Schemathesis keeps its example database (failures are replayed first next time) in the working directory.
  const child = spawn(bin, args, { cwd: WORK_DIR, env: { ...process.env, PYTHONUNBUFFERED: '1', COLUMNS: '120' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    opts.onOutput?.(text);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const generated = /(\d+) generated/.exec(output.slice(output.lastIndexOf('Test cases:')));
  const count = generated ? Number(generated[1]) : null;
  const problem = count !== null && count < mode.minRequests ? `only ${count} requests generated, fewer than ${mode.minRequests}` : null;
  return { ok: exitCode === 0 && !problem, exitCode, generated: count, seconds: (Date.now() - started) / 1000, output, problem };
}

async function main() {
  const args = process.argv.slice(2);
  const short = args.includes('--short');
  const option = (name: string) => { const at = args.indexOf(`--${name}`); return at >= 0 ? args[at + 1] : undefined; };
  const seed = option('seed') ?? process.env.FUZZ_SEED;
  const maxExamples = option('max-examples') ? Number(option('max-examples')) : undefined;
  ensureSchemathesis();

  let stack: ThrowawayStack | null = null;
  let apiUrl = process.env.FUZZ_API_URL;
  let apiKey = process.env.FUZZ_API_KEY;
  if (!apiUrl !== !apiKey) throw new Error('set both FUZZ_API_URL and FUZZ_API_KEY, or neither (to fuzz a throwaway stack)');
  const stop = async () => { await stack?.stop(); stack = null; };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    if (!apiUrl) {
      console.error('[fuzz] starting a throwaway stack');
      // Fuzzed bulk triggers queue hundreds of runs on a small machine, and a verb on a run waits for the
      // worker to reach it: give Temporal calls the time that backlog takes, not the default 10 s.
      stack = await startThrowawayStack({ prefix: 'tideway-fuzz', env: { EGRESS: 'loopback', TEMPORAL_REQUEST_TIMEOUT_MS: '60000' } });
      apiUrl = stack.apiUrl;
      apiKey = await fuzzTenantKey(String(stack.info.databaseUrl));
      console.error(`[fuzz] stack ready in ${(stack.startedInMs / 1000).toFixed(1)} s at ${apiUrl}`);
    }
    const result = await runFuzz({ apiUrl, apiKey: apiKey!, short, seed, maxExamples, onOutput: (t) => process.stdout.write(t) });
    console.log(`\n[fuzz] ${short ? 'short' : 'full'} run: ${result.generated ?? '?'} requests generated in ${result.seconds.toFixed(0)} s; `
      + `schemathesis exited ${result.exitCode}${result.problem ? `; ${result.problem}` : ''}: ${result.ok ? 'PASSED' : 'FAILED'}`);
    process.exitCode = result.ok ? 0 : 1;
  } finally {
    await stop();
  }
}

if (require.main === module) {
  main().catch((err) => { console.error(`[fuzz] ${err instanceof Error ? err.message : String(err)}`); process.exit(1); });
}
