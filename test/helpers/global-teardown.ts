import type { ThrowawayStack } from '../../scripts/throwaway-stack';

/** Stops the test stack the way Ctrl-C stops `npm start`, then removes its data (unless kept). */
export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as Record<string, unknown>).__TIDEWAY_STACK__ as ThrowawayStack | undefined;
  await stack?.stop({ keepData: Boolean(process.env.TIDEWAY_KEEP_TEST_DATA) });
}
