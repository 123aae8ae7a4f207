import { ApplicationFailure } from '@temporalio/activity';

export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads at most `limit` bytes of a response body. */
export async function readLimited(res: Response, limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  if (!res.body) return { bytes: Buffer.alloc(0), truncated: false };
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = Buffer.from(value);
    if (size + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - size));
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), truncated };
}

/**
 * Performs a request bounded by `timeoutSeconds` and the activity's cancellation, turning
 * transport failures and time-outs into retryable typed failures.
 */
export async function boundedFetch(
  http: { fetch: typeof fetch }, url: string, init: RequestInit, timeoutSeconds: number, signal: AbortSignal,
): Promise<Response> {
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  try {
    return await http.fetch(url, { ...init, signal: AbortSignal.any([timeout, signal]) });
  } catch (err) {
    if (signal.aborted) throw err;
    if (timeout.aborted) {
      throw ApplicationFailure.create({
        type: 'timeout', message: `request timed out after ${timeoutSeconds} s`, details: [{ timeoutSeconds }],
      });
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const message = `request failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
    throw ApplicationFailure.create({ type: 'transport_error', message, details: [{ cause: cause?.code ?? null }] });
  }
}

export function headersObject(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((v, k) => (out[k] = v));
  return out;
}
