import type { Context } from 'koa';
import type { Knex } from '@mikro-orm/knex';
import { hashApiKey } from '../db/tenancy';
import { one } from '../db/sql';
import { HttpError } from './errors';

export interface AuthContext {
  keyId: string;
  organizationId: string;
  projectId: string;
  userId: string;
  scopes: string[];
  taskQueue: string | null;
  /** How the key came: a browser session (cookie) triggers runs manually, the others through the API. */
  via: 'bearer' | 'header' | 'cookie';
}

const CACHE_TTL_MS = 10_000;

/** The presented key: Authorization Bearer, else X-API-Key, else the vai_token cookie. */
export function presentedKey(ctx: Context): { key: string; via: AuthContext['via'] } | null {
  const authz = ctx.get('authorization');
  if (authz) {
    const m = /^Bearer\s+(\S+)$/i.exec(authz.trim());
    if (!m) throw new HttpError(401, 'malformed Authorization header', { 'WWW-Authenticate': 'Bearer' });
    return { key: m[1], via: 'bearer' };
  }
  const header = ctx.get('x-api-key');
  if (header) return { key: header, via: 'header' };
  const cookie = ctx.cookies.get('vai_token');
  return cookie ? { key: cookie, via: 'cookie' } : null;
}

/** Resolves API keys (stored as SHA-256 hashes) with a short cache, so auth costs no query per request. */
export function createAuthenticator(knex: Knex) {
  const cache = new Map<string, { auth: Omit<AuthContext, 'via'> | null; at: number }>();
  return async function authenticate(ctx: Context): Promise<AuthContext> {
    const presented = presentedKey(ctx);
    if (!presented) throw new HttpError(401, 'missing API key', { 'WWW-Authenticate': 'Bearer' });
    const hash = hashApiKey(presented.key);
    const hit = cache.get(hash);
    let auth: Omit<AuthContext, 'via'> | null;
    if (hit && Date.now() - hit.at < CACHE_TTL_MS) auth = hit.auth;
    else {
      auth = await one<Omit<AuthContext, 'via'>>(
        knex,
        `select k.id as key_id, k.organization_id, k.project_id, k.user_id, k.scopes, p.task_queue
         from api_keys k join projects p on p.id = k.project_id
         where k.key_hash = ? and k.revoked_at is null`,
        [hash],
      );
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, { auth, at: Date.now() });
    }
    if (!auth) throw new HttpError(401, 'invalid API key', { 'WWW-Authenticate': 'Bearer' });
    ctx.state.auth = { ...auth, via: presented.via };
    return ctx.state.auth;
  };
}
