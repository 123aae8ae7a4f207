import type Router from '@koa/router';
import type { Context } from 'koa';
import { z, type ZodType } from 'zod';
import { HttpError, ValidationError, dialectOf, type FieldIssue } from './errors';
import { toFieldIssues } from '../core/validation';
import type { AuthContext } from './auth';

/**
 * Declarative routes: each states its params, query, body, auth and responses as schemas. The
 * same schemas validate requests (in the surface's error dialect) and produce the OpenAPI document.
 */
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  auth: AuthContext;
  ctx: Context;
}

export interface RouteDef<P = any, Q = any, B = any> {
  method: Method;
  /** OpenAPI-style path: /api/v1/action-runs/{run_id} */
  path: string;
  operationId: string;
  summary: string;
  tags: string[];
  description?: string;
  params?: z.ZodObject<any>;
  query?: z.ZodObject<any>;
  body?: ZodType;
  /** Documented responses by status; `null` means an empty body. 'sse' marks an event stream. */
  responses: Record<number, { description: string; schema?: ZodType | null; sse?: boolean; contentType?: string }>;
  public?: boolean;
  /** Authenticated by a run token (the callback API) instead of an API key. */
  runToken?: boolean;
  /**
   * The path, up to its id parameter, of what this operation creates (`/v1/runs/{runID}`): the
   * document links the `id` of its 2xx body to every operation under that path.
   */
  creates?: string;
  handler: (input: RouteInput<P, Q, B>) => Promise<RouteResponse | void>;
}

export function route<P extends z.ZodObject<any>, Q extends z.ZodObject<any>, B extends ZodType>(
  def: Omit<RouteDef, 'handler' | 'params' | 'query' | 'body'> & {
    params?: P; query?: Q; body?: B;
    handler: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<RouteResponse | void>;
  },
): RouteDef {
  return def as RouteDef;
}

/** Zod issues in FastAPI's shape: loc from the request part down to the field. */
export function toPartIssues(part: 'body' | 'query' | 'path' | 'header', error: z.ZodError, input: unknown): FieldIssue[] {
  return toFieldIssues(error, input).map((i) => ({ ...i, loc: [part, ...i.loc] }));
}

/** Whether a query field is a number under its optional/default wrappers. */
function isNumberField(field: ZodType): boolean {
  let t: ZodType = field;
  while (t instanceof z.ZodOptional || t instanceof z.ZodDefault || t instanceof z.ZodNullable) t = t.unwrap() as ZodType;
  return t instanceof z.ZodNumber;
}

export function parsePart<T extends ZodType>(schema: T, part: 'body' | 'query' | 'path', input: unknown): z.output<T> {
  // Query values are text and z.coerce.number() reads '' as 0: an empty value is not a number.
  if (part === 'query' && schema instanceof z.ZodObject) {
    const empty = Object.entries(schema.shape as Record<string, ZodType>).filter(([name, field]) => (input as Record<string, unknown>)[name] === '' && isNumberField(field));
    if (empty.length) throw new ValidationError(empty.map(([name]) => ({ loc: ['query', name], msg: 'Input should be a valid number, unable to parse string as a number', type: 'float_parsing' })));
  }
  const res = schema.safeParse(input);
  if (res.success) return res.data;
  throw new ValidationError(toPartIssues(part, res.error, input));
}

/** Koa's path syntax from the OpenAPI one. */
const koaPath = (p: string) => p.replace(/\{(\w+)\}/g, ':$1');

export function mount(router: Router, routes: RouteDef[], authenticate: (ctx: Context) => Promise<AuthContext>): void {
  for (const def of routes) {
    router[def.method](def.operationId, koaPath(def.path), async (ctx: Context) => {
      ctx.state.route = def.path;
      const auth = def.public || def.runToken ? (undefined as unknown as AuthContext) : await authenticate(ctx);
      let params: unknown = {};
      if (def.params) {
        try {
          params = parsePart(def.params, 'path', ctx.params);
        } catch (err) {
          // A malformed id on /v1 is simply not found (SEMANTICS §1).
          if (err instanceof ValidationError && dialectOf(ctx.path) === 'strait') throw new HttpError(404, 'not found');
          throw err;
        }
      }
      const query = def.query ? parsePart(def.query, 'query', ctx.query) : {};
      let body: unknown;
      // An empty body is an empty object for object schemas, so missing fields are named one by one; `null` is not a body.
      if (def.body) body = parsePart(def.body, 'body', ctx.state.body === undefined && def.body instanceof z.ZodObject ? {} : ctx.state.body);
      const res = (await def.handler({ params, query, body, auth, ctx })) ?? {};
      if (res.headers) for (const [k, v] of Object.entries(res.headers)) ctx.set(k, v);
      if (ctx.respond === false || ctx.state.streaming) return;
      const status = res.status ?? Number(Object.keys(def.responses)[0]);
      ctx.status = status;
      if (res.body !== undefined) ctx.body = res.body;
      else if (status === 204) ctx.body = null;
    });
  }
}
