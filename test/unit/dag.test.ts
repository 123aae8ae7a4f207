import { RetryPlanError, downstreamOf, planRetry, validateDag } from '../../core/dag';

const diamond = [
  { key: 'a', dependsOn: [] }, { key: 'b', dependsOn: ['a'] }, { key: 'c', dependsOn: ['a'] }, { key: 'd', dependsOn: ['b', 'c'] },
];

describe('DAG validation', () => {
  it('accepts a diamond', () => expect(validateDag(diamond)).toEqual([]));
  it('names duplicate keys, unknown dependencies and cycles', () => {
    expect(validateDag([{ key: 'a', dependsOn: [] }, { key: 'a', dependsOn: [] }])[0]).toMatchObject({ index: 1, field: 'key' });
    expect(validateDag([{ key: 'a', dependsOn: ['zz'] }])[0]).toMatchObject({ index: 0, field: 'dependsOn', message: expect.stringContaining('zz') });
    const cycle = validateDag([{ key: 'a', dependsOn: ['c'] }, { key: 'b', dependsOn: ['a'] }, { key: 'c', dependsOn: ['b'] }]);
    expect(cycle[0].message).toMatch(/cycle: a → c → b → a/);
  });
  it('finds everything downstream', () => expect([...downstreamOf(diamond, ['b'])]).toEqual(['d']));
});

describe('retry plans', () => {
  const status = (s: Record<string, string>) => diamond.map((d) => ({ ...d, status: s[d.key] }));
  it('from_failed re-runs failed and never-reached steps and their downstream', () => {
    expect(planRetry(status({ a: 'completed', b: 'failed', c: 'completed', d: 'skipped' }), 'from_failed')).toEqual({ rerun: ['b', 'd'], reuse: ['a', 'c'] });
  });
  it('from_step re-runs the step and its downstream once upstream is completed', () => {
    expect(planRetry(status({ a: 'completed', b: 'completed', c: 'completed', d: 'completed' }), 'from_step', 'c')).toEqual({ rerun: ['c', 'd'], reuse: ['a', 'b'] });
    expect(() => planRetry(status({ a: 'completed', b: 'failed', c: 'completed', d: 'skipped' }), 'from_step', 'd')).toThrow(RetryPlanError);
    expect(() => planRetry(status({ a: 'completed', b: 'failed', c: 'completed', d: 'skipped' }), 'from_step', 'x')).toThrow('unknown step');
  });
  it('full re-runs everything', () => {
    expect(planRetry(status({ a: 'completed', b: 'failed', c: 'completed', d: 'skipped' }), 'full').rerun).toEqual(['a', 'b', 'c', 'd']);
  });
});
