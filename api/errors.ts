import type { Context } from 'koa';

/** Each API surface speaks its own error dialect (SEMANTICS §1). */
export type Dialect = 'fastapi' | 'strait';

import type { FieldIssue } from '../core/validation';

export type { FieldIssue };

/** An error with an HTTP status and a message safe to show to the client. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

export class ValidationError extends HttpError {
  constructor(readonly issues: FieldIssue[], status = 422) {
    super(status, issues.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; '));
    this.name = 'ValidationError';
  }
}

export const notFound = (what = 'run') => new HttpError(404, `${what} not found`);
export const conflict = (message: string) => new HttpError(409, message);

export function dialectOf(path: string): Dialect {
  return path.startsWith('/v1/') || path === '/v1' ? 'strait' : 'fastapi';
}

export function writeError(ctx: Context, err: HttpError): void {
  ctx.status = err.status;
  for (const [k, v] of Object.entries(err.headers)) ctx.set(k, v);
  const dialect = dialectOf(ctx.path);
  if (dialect === 'strait') {
    ctx.body = { error: err.message, request_id: ctx.state.requestId };
  } else if (err instanceof ValidationError && err.status === 422) {
    ctx.body = { detail: err.issues };
  } else {
    ctx.body = { detail: err.message };
  }
}
