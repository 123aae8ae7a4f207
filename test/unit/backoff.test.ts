import { backoffMs, type JobConfig } from '../../workflows/job-run.workflow';

const job = (retryStrategy: JobConfig['retryStrategy']): JobConfig => ({
  endpointUrl: 'http://x', maxAttempts: 10, timeoutSecs: 30, retryStrategy, retryInitialDelaySecs: 1, retryMaxDelaySecs: 10, maxConcurrency: null,
});

describe('job retry backoff', () => {
  it('doubles exponentially from the initial delay, capped at the maximum', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(job('exponential'), a, 0.5))).toEqual([1000, 2000, 4000, 8000, 10000]);
  });
  it('grows linearly or stays fixed', () => {
    expect([1, 2, 3].map((a) => backoffMs(job('linear'), a, 0.5))).toEqual([1000, 2000, 3000]);
    expect([1, 2, 3].map((a) => backoffMs(job('fixed'), a, 0.5))).toEqual([1000, 1000, 1000]);
  });
  it('jitters by ±20 %', () => {
    expect(backoffMs(job('exponential'), 1, 0)).toBe(800);
    expect(backoffMs(job('exponential'), 1, 1)).toBe(1200);
  });
});
