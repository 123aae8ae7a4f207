import { ApplicationFailure } from '@temporalio/activity';
import type { HttpRequestDefinition } from '../../core/action-kinds';
import { MAX_BODY_BYTES, boundedFetch, headersObject, readLimited } from './http-client';
import type { ExecutorContext } from '.';

/** `http_request`: any method; result {status, headers, body}. 429, 5xx and transport errors retry. */
export async function httpRequest(def: HttpRequestDefinition, ctx: ExecutorContext): Promise<unknown> {
  const url = new URL(def.url);
  for (const [k, v] of Object.entries(def.query ?? {})) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { ...def.headers };
  let body: string | undefined;
  if (def.body !== undefined && def.method !== 'GET' && def.method !== 'HEAD') {
    if (typeof def.body === 'string') body = def.body;
    else {
      body = JSON.stringify(def.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
  }
  await ctx.log({ event: 'http_request', message: `${def.method} ${url.origin}${url.pathname}` });
  const started = Date.now();
  const res = await boundedFetch(ctx.http, url.toString(), { method: def.method, headers, body }, def.timeoutSeconds, ctx.signal);
  const { bytes, truncated } = await readLimited(res, MAX_BODY_BYTES);
  const text = bytes.toString('utf8');
  let parsed: unknown = text;
  if (!truncated && /\bjson\b/i.test(res.headers.get('content-type') ?? '')) {
    try {
      parsed = text.length ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
  }
  await ctx.log({ event: 'http_response', message: `HTTP ${res.status} in ${Date.now() - started} ms`, data: { status: res.status, bytes: bytes.length, truncated } });
  const ok = (res.status >= 200 && res.status < 300) || (def.allowedStatuses ?? []).includes(res.status);
  if (!ok) {
    const retryable = res.status === 429 || res.status >= 500;
    throw ApplicationFailure.create({
      type: 'http_status',
      message: `HTTP ${res.status} from ${url.host}`,
      nonRetryable: !retryable,
      details: [{ status: res.status }],
    });
  }
  return { status: res.status, headers: headersObject(res.headers), body: parsed, ...(truncated ? { bodyTruncated: true } : {}) };
}
