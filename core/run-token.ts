import crypto from 'node:crypto';

/**
 * Short-lived run tokens: an HMAC-SHA256 over (run id, attempt, expiry). A job endpoint gets one per
 * dispatch in X-Run-Token and uses it for the callback API; it is worth nothing for another run or
 * another attempt, and nothing after it expires.
 */
export interface RunTokenClaims {
  runId: string;
  attempt: number;
  exp: number;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export function signRunToken(secret: string, claims: RunTokenClaims): string {
  const body = b64(JSON.stringify({ r: claims.runId, a: claims.attempt, e: claims.exp }));
  const mac = b64(crypto.createHmac('sha256', secret).update(body).digest());
  return `rt1.${body}.${mac}`;
}

export function verifyRunToken(secret: string, token: string, now = Date.now()): RunTokenClaims | null {
  const [version, body, mac] = token.split('.');
  if (version !== 'rt1' || !body || !mac) return null;
  const expected = crypto.createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
  try {
    const { r, a, e } = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    if (typeof r !== 'string' || typeof a !== 'number' || typeof e !== 'number' || e * 1000 < now) return null;
    return { runId: r, attempt: a, exp: e };
  } catch {
    return null;
  }
}

/** The signing key: RUN_TOKEN_SECRET, else one generated once and kept in the settings table. */
export async function runTokenSecret(fromEnv: string | undefined, stored: (make: () => string) => Promise<string>): Promise<string> {
  return fromEnv ?? stored(() => crypto.randomBytes(32).toString('base64url'));
}
