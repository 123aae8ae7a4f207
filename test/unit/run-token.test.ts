import { signRunToken, verifyRunToken } from '../../core/run-token';

describe('run tokens', () => {
  const exp = Math.floor(Date.now() / 1000) + 60;
  it('verify for the run and attempt they were signed for', () => {
    const token = signRunToken('k', { runId: 'r1', attempt: 2, exp });
    expect(verifyRunToken('k', token)).toEqual({ runId: 'r1', attempt: 2, exp });
  });
  it('fail with another key, a tampered body or after expiry', () => {
    const token = signRunToken('k', { runId: 'r1', attempt: 2, exp });
    expect(verifyRunToken('other', token)).toBeNull();
    const [v, , mac] = token.split('.');
    const forged = `${v}.${Buffer.from(JSON.stringify({ r: 'r2', a: 2, e: exp })).toString('base64url')}.${mac}`;
    expect(verifyRunToken('k', forged)).toBeNull();
    expect(verifyRunToken('k', signRunToken('k', { runId: 'r1', attempt: 1, exp: 1 }))).toBeNull();
    expect(verifyRunToken('k', 'garbage')).toBeNull();
  });
});
