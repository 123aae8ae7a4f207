import { startThrowawayStack } from '../../scripts/throwaway-stack';

/**
 * Starts the real stack once for the whole run, with the same launcher as `npm start`, on free
 * ports and a fresh data directory. Tests find it through TIDEWAY_TEST_STACK.
 */
export default async function globalSetup(): Promise<void> {
  const stack = await startThrowawayStack({
    prefix: 'tideway-test',
    // Workers call only this machine: tests use local targets, and the fuzz test's runs carry generated URLs.
    env: { ACTIVITY_HEARTBEAT_TIMEOUT_SECS: '3', RECONCILE_AFTER_SECS: '3', EGRESS: 'loopback' },
  });
  process.env.TIDEWAY_TEST_STACK = JSON.stringify({ ...stack.info, apiKey: stack.apiKey, dataDir: stack.dataDir, launcherPid: stack.launcher.pid });
  (globalThis as Record<string, unknown>).__TIDEWAY_STACK__ = stack;
  console.log(`\n[tideway] test stack ready in ${(stack.startedInMs / 1000).toFixed(1)} s at ${stack.apiUrl} (logs in ${stack.dataDir})`);
}
