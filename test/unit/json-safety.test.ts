import { findUnstorable, isSaneInstant } from '../../core/json-safety';

describe('input Postgres cannot store', () => {
  it('finds NUL characters and unpaired surrogates, in values and keys', () => {
    expect(findUnstorable({ a: ['ok', 'x\u0000y'] })).toEqual(['a', 1]);
    expect(findUnstorable({ ['\ud800']: 1 })).toEqual(['\ud800']);
    expect(findUnstorable({ s: 'lone \udc00 low' })).toEqual(['s']);
    expect(findUnstorable({ emoji: '😀', text: 'é' })).toBeNull();
  });
  it('accepts instants Postgres and JavaScript agree on', () => {
    expect(isSaneInstant('2026-01-01T00:00:00Z')).toBe(true);
    expect(isSaneInstant('2026-01-01T00:00:00+05:30')).toBe(true);
    expect(isSaneInstant('0020-02-29T00:00:00Z')).toBe(false);
    expect(isSaneInstant('2000-09-29T00:21:50.7+19:11')).toBe(false);
  });
});
