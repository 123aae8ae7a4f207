import { proxyActivities } from '@temporalio/workflow';
import type { BaselineActivities } from './activities';

/**
 * What the benchmarks compare Tideway with: the same work on bare Temporal, written as a Temporal
 * user would — a workflow that calls an activity which POSTs to the endpoint, nothing else.
 */
const { post } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '60s', retry: { maximumAttempts: 3, initialInterval: '200ms' } });

/** One job run or one http_request action run: a single HTTP call. */
export async function baselineCall(url: string, payload: unknown): Promise<unknown> {
  return post(url, payload);
}

/** A 4-step automation (a → b, c → d), each step an HTTP call. */
export async function baselineDiamond(url: string, payload: unknown): Promise<unknown> {
  const a = await post(url, { step: 'a', payload });
  const [b, c] = await Promise.all([post(url, { step: 'b', a }), post(url, { step: 'c', a })]);
  return post(url, { step: 'd', b, c });
}
