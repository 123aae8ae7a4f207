import { findUnstorable, isSaneInstant, nestsDeeperThan } from '../../core/json-safety';

describe('input Postgres cannot store', () => {
  it('finds NUL characters and unpaired surrogates, in values and keys', () => {
    expect(findUnstorable({ a: ['ok', 'x\u0000y'] })).toEqual(['a', 1]);
    expect(findUnstorable({ ['\ud800']: 1 })).toEqual(['\ud800']);
    expect(findUnstorable({ s: 'lone \udc00 low' })).toEqual(['s']);
    expect(findUnstorable({ emoji: '😀', text: 'é' })).toBeNull();
  });
  it('measures nesting without recursion, at any depth', () => {
    expect(nestsDeeperThan({ a: [1, { b: [] }] }, 4)).toBe(false);
    expect(nestsDeeperThan({ a: [1, { b: [] }] }, 3)).toBe(true);
    expect(nestsDeeperThan('scalar', 0)).toBe(false);
    expect(nestsDeeperThan(JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)), 128)).toBe(true);
  });
  it('accepts instants Postgres and JavaScript agree on', () => {
    expect(isSaneInstant('2026-01-01T00:00:00Z')).toBe(true);
    expect(isSaneInstant('2026-01-01T00:00:00+05:30')).toBe(true);
    expect(isSaneInstant('0020-02-29T00:00:00Z')).toBe(false);
    expect(isSaneInstant('2000-09-29T00:21:50.7+19:11')).toBe(false);
    // The document's pattern: the year as written is 1970..9998, the offset within ±14:00.
    expect(isSaneInstant('1970-01-01T00:00:00+14:00')).toBe(true);
    expect(isSaneInstant('9998-12-31T23:59:59.999-14:00')).toBe(true);
    expect(isSaneInstant('9999-01-01T00:00:00Z')).toBe(false);
    expect(isSaneInstant('2026-01-01t00:00:00z')).toBe(false);
  });
});
