import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/stack';

/**
 * Starts the real stack once for the whole run, with the same launcher as `npm start`, on free
 * ports and a fresh data directory. Tests find it through TIDEWAY_TEST_STACK.
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideway-test-'));
  const [port, temporalPort, temporalUiPort] = [await freePort(), await freePort(), await freePort()];
  const apiKey = `tw_test_${Math.random().toString(36).slice(2)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(temporalUiPort),
    BOOTSTRAP_API_KEY: apiKey,
    ACTIVITY_HEARTBEAT_TIMEOUT_SECS: '3',
    RECONCILE_AFTER_SECS: '3',
    LOG_LEVEL: 'warn',
  };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  const log = fs.openSync(path.join(dataDir, 'launcher.log'), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: path.resolve(__dirname, '../..'), env, stdio: ['ignore', log, log],
  });
  const readyFile = path.join(dataDir, 'stack.json');
  const started = Date.now();
  while (!fs.existsSync(readyFile)) {
    if (child.exitCode !== null) throw new Error(`stack failed to start; see ${path.join(dataDir, 'launcher.log')}:\n${fs.readFileSync(path.join(dataDir, 'launcher.log'), 'utf8').slice(-4000)}`);
    if (Date.now() - started > 15 * 60_000) throw new Error('stack did not start within 15 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
  const info = JSON.parse(fs.readFileSync(readyFile, 'utf8'));
  process.env.TIDEWAY_TEST_STACK = JSON.stringify({ ...info, apiKey, dataDir, launcherPid: child.pid });
  (globalThis as Record<string, unknown>).__TIDEWAY_LAUNCHER__ = child;
  console.log(`\n[tideway] test stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${info.apiUrl} (logs in ${dataDir})`);
}
