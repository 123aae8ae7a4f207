import type { Context, Next } from 'koa';
import getRawBody from 'raw-body';
import { findUnstorable, hasUnstorableText, nestsDeeperThan } from '../core/json-safety';
import { HttpError, ValidationError, dialectOf } from './errors';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** Deeper JSON is refused before anything walks it recursively (validation, JSON.stringify, Postgres). */
export const MAX_JSON_DEPTH = 128;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a JSON body up to 1 MiB into ctx.state.body (undefined when empty). A body must be UTF-8
 * JSON: a Content-Type other than JSON is 415 (none at all is read as JSON, as FastAPI does).
 */
export async function jsonBody(ctx: Context, next: Next) {
  for (const [name, value] of Object.entries(ctx.query)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && hasUnstorableText(v)) {
        throw new ValidationError([{ loc: ['query', name], msg: 'text may not contain NUL characters or unpaired surrogates', type: 'string_unicode' }]);
      }
    }
  }
  if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method) && ctx.req.headers['content-length'] !== '0') {
    const raw = await readText(ctx);
    if (raw.trim() !== '') {
      const type = ctx.get('content-type');
      if (type && !ctx.is('json', '+json')) throw new HttpError(415, `expected a JSON body (Content-Type: application/json), got ${type.slice(0, 100)}`);
      try {
        ctx.state.body = JSON.parse(raw);
      } catch (err) {
        if (dialectOf(ctx.path) === 'strait') throw new HttpError(400, 'malformed JSON body');
        throw new ValidationError([{ loc: ['body', 0], msg: `JSON decode error: ${(err as Error).message}`, type: 'json_invalid' }]);
      }
      if (nestsDeeperThan(ctx.state.body, MAX_JSON_DEPTH)) throw new HttpError(400, `JSON body nested deeper than ${MAX_JSON_DEPTH} levels`);
      const bad = findUnstorable(ctx.state.body);
      if (bad) throw new ValidationError([{ loc: ['body', ...bad], msg: 'text may not contain NUL characters or unpaired surrogates', type: 'string_unicode' }]);
    }
  }
  await next();
}

async function readText(ctx: Context): Promise<string> {
  let raw: Buffer;
  try {
    raw = await getRawBody(ctx.req, { limit: BODY_LIMIT_BYTES });
  } catch (err) {
    if ((err as { type?: string }).type === 'entity.too.large') {
      // Discard the rest rather than close on a client still sending (it would get a reset, not the
      // 413); the connection stays usable, and the request timeout bounds a client that never stops.
      ctx.req.resume();
      throw new HttpError(413, 'request body larger than 1 MiB');
    }
    throw new HttpError(400, 'could not read request body');
  }
  try {
    return utf8.decode(raw);
  } catch {
    throw new HttpError(400, 'request body is not valid UTF-8');
  }
}
