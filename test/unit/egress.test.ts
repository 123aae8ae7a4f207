import { egressRefusal, guardedFetch, parseEgressPolicy } from '../../core/egress';

describe('egress policy', () => {
  it('lets every request go by default', () => {
    expect(parseEgressPolicy(undefined)).toBe('any');
    expect(egressRefusal('https://example.com/x', 'any')).toBeNull();
  });

  it('under loopback, allows only this machine', () => {
    for (const url of ['http://127.0.0.1:8080/a', 'http://127.1.2.3/', 'http://localhost:3000', 'http://api.localhost/', 'http://[::1]:80/']) {
      expect(egressRefusal(url, 'loopback')).toBeNull();
    }
    for (const url of ['https://example.com', 'http://10.0.0.1/', 'http://192.168.1.1', 'http://[::ffff:a00:1]/', 'http://127.0.0.1.nip.io/', 'http://0.com']) {
      expect(egressRefusal(url, 'loopback')).toMatch(/not allowed/);
    }
  });

  it('refuses a guarded fetch before it connects, as a network failure', async () => {
    const inner = jest.fn(async () => new Response('ok'));
    const guarded = guardedFetch('loopback', inner as unknown as typeof fetch);
    await expect(guarded('https://example.com')).rejects.toMatchObject({ cause: { code: 'EGRESS_DENIED' } });
    expect(inner).not.toHaveBeenCalled();
    await guarded('http://127.0.0.1:1/x');
    expect(inner).toHaveBeenCalledTimes(1);
  });

  it('names a bad setting', () => {
    expect(() => parseEgressPolicy('none')).toThrow(/EGRESS/);
  });
});
