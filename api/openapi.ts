import Ajv2020 from 'ajv/dist/2020';
import { z, type ZodType } from 'zod';
import type { RouteDef } from './route';

type Json = Record<string, unknown>;

function jsonSchema(schema: ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
}

const fastapiValidation = {
  type: 'object',
  properties: {
    detail: {
      type: 'array',
      items: {
        type: 'object',
        required: ['loc', 'msg', 'type'],
        properties: {
          loc: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
          msg: { type: 'string' },
          type: { type: 'string' },
        },
      },
    },
  },
  required: ['detail'],
};
const fastapiError = { type: 'object', properties: { detail: { type: 'string' } }, required: ['detail'] };
const straitError = { type: 'object', properties: { error: { type: 'string' }, request_id: { type: 'string' } }, required: ['error', 'request_id'] };

/** One Server-Sent Event: `data` is a JSON document, `id` the resume cursor. */
const SSE_EVENT = {
  type: 'object',
  properties: { id: { type: 'string' }, event: { type: 'string' }, data: { type: 'string' }, retry: { type: 'integer' } },
};

const STANDARD_ERRORS: Record<number, string> = {
  401: 'Missing or invalid API key (or run token)',
  410: 'The run is already finished',
  404: 'Not found (or owned by another organization)',
  413: 'Request body larger than 1 MiB',
  415: 'The body is not JSON (Content-Type other than application/json)',
  422: 'Validation error',
  400: 'Malformed request (e.g. a body that is not UTF-8 JSON or nests deeper than 128 levels)',
  409: 'The resource is in a state that does not allow this',
  503: 'A dependency (Postgres or Temporal) is unavailable; retry after Retry-After seconds',
};

/** Links the id a creating operation returns to the operations under what it created, for clients and stateful testing. */
function addLinks(routes: RouteDef[], paths: Record<string, Json>): void {
  for (const r of routes.filter((x) => x.creates)) {
    const param = /\{(\w+)\}$/.exec(r.creates!)![1];
    const links: Json = {};
    for (const target of routes) {
      if (target.path === r.creates || target.path.startsWith(`${r.creates}/`)) {
        links[target.operationId] = { operationId: target.operationId, parameters: { [param]: '$response.body#/id' } };
      }
    }
    const responses = (paths[r.path][r.method] as { responses: Record<string, Json> }).responses;
    for (const [code, resp] of Object.entries(responses)) if (/^2/.test(code) && resp.content) resp.links = links;
  }
}

const documentValidator = new Ajv2020({ strict: false, validateFormats: false });
/**
 * A missing body is read as `{}` for object schemas (api/route.ts), so the body is optional when `{}`
 * is valid: for the schema and for what the document adds to it (`.meta({ anyOf })` rules a handler checks).
 */
const acceptsNoBody = (body: ZodType) =>
  body instanceof z.ZodObject && body.safeParse({}).success && documentValidator.validate(jsonSchema(body, 'input'), {});

const DESCRIPTION = 'Text anywhere in a request (query values, body strings and object keys) may not contain NUL characters '
  + 'or unpaired UTF-16 surrogates, which Postgres cannot store: such a request is refused with 422.';

/** The OpenAPI 3.1 document, built from the same route definitions that validate requests. */
export function buildOpenApi(routes: RouteDef[], info: { title: string; version: string }): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const strait = r.path.startsWith('/v1/');
    const parameters: Json[] = [];
    for (const [where, schema] of [['path', r.params], ['query', r.query]] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, prop] of Object.entries(js.properties ?? {})) {
        const { description, contentMediaType, contentSchema, ...rest } = prop as Json;
        parameters.push({
          name, in: where, required: where === 'path' || (js.required ?? []).includes(name),
          // A parameter that carries a JSON document (`.meta({ contentMediaType, contentSchema })`) is described by its content.
          ...(contentMediaType === 'application/json' && contentSchema ? { content: { 'application/json': { schema: contentSchema } } } : { schema: rest }),
          ...(description ? { description } : {}),
        });
      }
    }
    const responses: Json = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = {
        description: resp.description,
        ...(resp.sse
          ? { content: { 'text/event-stream': { schema: SSE_EVENT } } }
          : resp.schema
            ? { content: { [resp.contentType ?? 'application/json']: { schema: jsonSchema(resp.schema, 'output') } } }
            : {}),
      };
    }
    // Keyset-paginated lists of /v1 send the next cursor in headers.
    if (strait && r.method === 'get' && r.query?.shape.cursor && responses[200]) {
      (responses[200] as Json).headers = {
        'X-Next-Cursor': { description: 'Cursor of the next page (absent on the last page)', schema: { type: 'string' } },
        Link: { description: '`<…?cursor=…>; rel="next"` (absent on the last page)', schema: { type: 'string' } },
      };
    }
    const write = r.method !== 'get';
    const errorCodes = [
      ...(r.public ? [] : [401]), ...(r.runToken ? [410] : []), ...(r.params || r.query?.shape.project_id ? [404] : []),
      ...(r.query || r.body || (r.params && !strait) ? [422] : []), ...(r.body ? [413, 415] : []),
      ...(r.body || (strait && r.query) ? [400] : []), ...(write && !r.public ? [409] : []), 503,
    ];
    for (const code of errorCodes) {
      if (responses[code]) continue;
      const schema = strait ? straitError : code === 422 ? fastapiValidation : fastapiError;
      responses[code] = { description: STANDARD_ERRORS[code], content: { 'application/json': { schema } } };
    }
    for (const [code, resp] of Object.entries(responses)) {
      const c = Number(code);
      if (c >= 400 && !(resp as Json).content) {
        (resp as Json).content = { 'application/json': { schema: strait ? straitError : fastapiError } };
      }
    }
    const op: Json = {
      operationId: r.operationId,
      summary: r.summary,
      tags: r.tags,
      ...(r.description ? { description: r.description } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: !acceptsNoBody(r.body), content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } } : {}),
      responses,
      ...(r.public ? { security: [] } : r.runToken ? { security: [{ runToken: [] }] } : {}),
    };
    paths[r.path] = { ...(paths[r.path] ?? {}), [r.method]: op };
  }
  addLinks(routes, paths);
  return {
    openapi: '3.1.0',
    info: { ...info, description: DESCRIPTION },
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'API key as a bearer token' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        cookieAuth: { type: 'apiKey', in: 'cookie', name: 'vai_token' },
        runToken: { type: 'apiKey', in: 'header', name: 'X-Run-Token', description: 'The run token a dispatch carried (also accepted as a bearer token)' },
      },
    },
    security: [{ bearerAuth: [] }, { apiKeyHeader: [] }, { cookieAuth: [] }],
  };
}

export const DOCS_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Tideway API</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}
.op{border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.5rem .8rem}.m{font-weight:bold;text-transform:uppercase;margin-right:.5rem}</style></head>
<body><h1>Tideway API</h1><p>The machine-readable document is at <a href="/openapi.json">/openapi.json</a>.</p><div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{const el=document.getElementById('ops');el.innerHTML='';
for(const [p,ops] of Object.entries(doc.paths)){for(const [m,op] of Object.entries(ops)){const d=document.createElement('div');d.className='op';
d.innerHTML='<span class="m"></span><code></code><div></div>';d.children[0].textContent=m;d.children[1].textContent=p;d.children[2].textContent=op.summary||'';el.appendChild(d);}}});
</script></body></html>`;
