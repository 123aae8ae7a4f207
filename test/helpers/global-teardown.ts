import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** Stops the test stack the way Ctrl-C stops `npm start`, then removes its data (unless kept). */
export default async function globalTeardown(): Promise<void> {
  const child = (globalThis as Record<string, unknown>).__TIDEWAY_LAUNCHER__ as ChildProcess | undefined;
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  const info = process.env.TIDEWAY_TEST_STACK && JSON.parse(process.env.TIDEWAY_TEST_STACK);
  if (info?.dataDir && !process.env.TIDEWAY_KEEP_TEST_DATA) fs.rmSync(info.dataDir, { recursive: true, force: true });
}
