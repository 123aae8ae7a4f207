import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../../scripts/stack';
import { client, closeDb, newTenant, spawnApi, sql, stopProcess, waitFor, type Api } from '../helpers/stack';
import { jobEndpoint } from '../helpers/job-endpoint';
import { parseResponses, rawConnection } from '../helpers/raw-http';

/**
 * Hostile input against a dedicated API process (short HTTP timeouts, so slow clients take seconds;
 * its memory measured alone): clear 4xx answers in the surface's dialect, slow clients dropped,
 * thousands of idle event streams held, and the process keeps serving throughout.
 */
const HEADERS_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 4_000;
/** `npm run test:resilience` sets 10,000. */
const SSE_CONNECTIONS = Number(process.env.HOSTILE_SSE_CONNECTIONS ?? 2_000);

let port: number;
let apiProcess: ChildProcess;
let key: string;
let api: Api;
let ep: Awaited<ReturnType<typeof jobEndpoint>>;

beforeAll(async () => {
  port = await freePort();
  apiProcess = await spawnApi(port, 'hostile-api', { HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
  ({ key } = await newTenant('hostile'));
  api = client(key, `http://127.0.0.1:${port}`);
  ep = await jobEndpoint();
}, 90_000);
afterAll(async () => {
  await stopProcess(apiProcess);
  await ep.close();
  await closeDb();
});

const SURFACES = [
  { path: '/api/v1/action-runs', error: { detail: expect.any(String) } },
  { path: '/v1/jobs', error: { error: expect.any(String), request_id: expect.any(String) } },
];
const head = (method: string, path: string, headers: Record<string, string | number> = {}) =>
  `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${Object.entries({ authorization: `Bearer ${key}`, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
const post = (path: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, ...headers }, body })
    .then(async (r) => ({ status: r.status, body: await r.json() }));
const readyz = async () => {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  await res.text();
  return { status: res.status, ms: performance.now() - started };
};
/** Keeps `drip`ping every `everyMs` until the server closes the connection: a 408, within a second or two of `timeoutMs`. */
async function expectDroppedAfter(conn: ReturnType<typeof rawConnection>, timeoutMs: number, drip: () => void, everyMs: number) {
  const timer = setInterval(drip, everyMs);
  const ms = await conn.closed;
  clearInterval(timer);
  expect(conn.received).toMatch(/^HTTP\/1\.1 408 /);
  expect(ms).toBeGreaterThanOrEqual(timeoutMs - 100);
  expect(ms).toBeLessThan(timeoutMs + 2_500);
}
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('bodies', () => {
  for (const { path, error } of SURFACES) {
    for (const framing of ['content-length', 'chunked'] as const) {
      it(`answers 413 on ${path} to a body over 1 MiB (${framing}) and keeps the connection usable`, async () => {
        const conn = rawConnection(port);
        const size = 2 * 1024 * 1024;
        await conn.write(head('POST', path, { 'content-type': 'application/json', ...(framing === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': size }) }));
        const piece = Buffer.alloc(64 * 1024, ' ');
        for (let sent = 0; sent < size; sent += piece.length) await conn.write(framing === 'chunked' ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece);
        if (framing === 'chunked') await conn.write('0\r\n\r\n');
        await conn.write(head('GET', '/healthz', { connection: 'close' }));
        await conn.closed;
        const [tooLarge, next] = parseResponses(conn.received);
        expect(tooLarge.status).toBe(413);
        expect(JSON.parse(tooLarge.body)).toEqual({ ...error, [Object.keys(error)[0]]: 'request body larger than 1 MiB' });
        expect(next.status).toBe(200);
      });
    }

    it(`answers 400 on ${path} to JSON nested 100,000 levels deep, and to invalid UTF-8`, async () => {
      expect(await post(path, nested(100_000))).toEqual({ status: 400, body: expect.objectContaining(error) });
      expect(await post(path, `{"kind": ${nested(129)}}`)).toMatchObject({ status: 400 });
      const invalid = Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
      expect(await post(path, invalid)).toEqual({ status: 400, body: { ...error, [Object.keys(error)[0]]: 'request body is not valid UTF-8' } });
    });

    it(`answers 415 on ${path} to a body that is not declared JSON`, async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        expect(await post(path, '{"kind": "approval_gate"}', { 'content-type': type })).toEqual({ status: 415, body: expect.objectContaining(error) });
      }
    });
  }

  it('accepts JSON nested up to the limit, and a JSON body sent without a Content-Type', async () => {
    const deep = JSON.parse(nested(126));
    expect((await post('/api/v1/action-runs', JSON.stringify({ kind: 'conditional_branch', definition: { expression: '1', input: deep } }))).status).toBe(201);
    // fetch sends a string as text/plain, a Buffer without any Content-Type.
    expect((await post('/api/v1/action-runs', Buffer.from('{"kind": "approval_gate"}'), {})).status).toBe(201);
    expect((await post('/api/v1/action-runs', '{"kind": "approval_gate"}', { 'content-type': 'application/json; charset=utf-8' })).status).toBe(201);
  });
});

describe('headers and slow clients', () => {
  it('answers 431 to a 100 KiB header, then serves the next request', async () => {
    const conn = rawConnection(port);
    await conn.write(head('GET', '/readyz', { 'x-padding': 'a'.repeat(100 * 1024) }));
    await conn.closed;
    expect(conn.received).toMatch(/^HTTP\/1\.1 431 /);
    expect((await readyz()).status).toBe(200);
  });

  it('drops a client sending its headers a byte a second (408 after the headers timeout)', async () => {
    const conn = rawConnection(port);
    await conn.write('GET /readyz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    await expectDroppedAfter(conn, HEADERS_TIMEOUT_MS, () => conn.socket.write('a'), 1000);
  });

  it('drops a client trickling its body (408 after the request timeout)', async () => {
    const conn = rawConnection(port);
    await conn.write(head('POST', '/v1/jobs', { 'content-type': 'application/json', 'content-length': 1000 }));
    await expectDroppedAfter(conn, REQUEST_TIMEOUT_MS, () => conn.socket.write(' '), 500);
  });

  it('keeps idle keep-alive connections and event streams open past both timeouts', async () => {
    const gate = await api.post('/api/v1/action-runs', { kind: 'approval_gate' });
    await api.post(`/api/v1/action-runs/${gate.body.id}/execute`);
    const stream = rawConnection(port);
    await stream.write(head('GET', `/api/v1/action-runs/${gate.body.id}/logs/stream`));
    const idle = rawConnection(port);
    await idle.write(head('GET', '/healthz'));
    await idle.until((r) => parseResponses(r).length === 1);
    await new Promise((r) => setTimeout(r, REQUEST_TIMEOUT_MS + 2_000));
    await idle.write(head('GET', '/healthz'));
    expect((await idle.until((r) => parseResponses(r).length === 2)).match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(stream.socket.destroyed).toBe(false);
    expect(stream.received).toMatch(/^HTTP\/1\.1 200 [^]*: connected/);
    await api.post(`/api/v1/action-runs/${gate.body.id}/cancel`);
    await stream.until((r) => r.includes('"terminal":true'));
    idle.socket.destroy();
    stream.socket.destroy();
  }, 20_000);
});

describe('many idle event streams', () => {
  it(`holds ${SSE_CONNECTIONS} idle SSE connections on one API process, which keeps answering fast and fans an event out to all`, async () => {
    const fdLimit = (pid: number | string) => Number(/Max open files\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ?? Infinity);
    const limit = Math.min(fdLimit('self'), fdLimit(apiProcess.pid!)) - 500;
    const count = Math.min(SSE_CONNECTIONS, limit);
    if (count < SSE_CONNECTIONS) console.warn(`[hostile-input] open-file limit ${limit + 500}: holding ${count} SSE connections instead of ${SSE_CONNECTIONS} (raise ulimit -n)`);
    const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${apiProcess.pid}/status`, 'utf8'))![1]) / 1024;
    const backends = async () => Number((await sql('select count(*) as n from pg_stat_activity'))[0].n);

    // One executing job run for everyone to watch; a log line through its run token is the event.
    ep.on('/watched', () => ({ status: 202 }));
    const job = (await api.post('/v1/jobs', { name: 'watched', slug: 'watched', endpoint_url: `${ep.base}/watched` })).body;
    const runId = (await api.post(`/v1/jobs/${job.id}/trigger`, {})).body.id;
    const [dispatch] = await waitFor(async () => ep.for(runId), (d) => d.length > 0, 30_000, 'dispatch');
    const rssBefore = rssMiB();
    const backendsBefore = await backends();

    const opened = performance.now();
    const streams: ReturnType<typeof rawConnection>[] = [];
    for (let i = 0; i < count; i += 250) {
      const batch = Array.from({ length: Math.min(250, count - i) }, () => rawConnection(port));
      await Promise.all(batch.map(async (c) => {
        await c.write(head('GET', `/v1/runs/${runId}/stream`, { accept: 'text/event-stream' }));
        await c.until((r) => r.includes(': connected'), 60_000);
      }));
      streams.push(...batch);
    }
    const openSeconds = (performance.now() - opened) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const rssHeld = rssMiB();
    const backendsHeld = await backends();

    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      expect((await api.get('/v1/runs?limit=10')).status).toBe(200);
      latencies.push(performance.now() - started);
      const r = await readyz();
      expect(r.status).toBe(200);
      latencies.push(r.ms);
    }
    latencies.sort((x, y) => x - y);

    const fanned = performance.now();
    const logged = await client(null).post(`/v1/sdk/runs/${runId}/log`, { message: 'to everyone' }, { 'x-run-token': dispatch.token });
    expect(logged.status).toBe(201);
    await Promise.all(streams.map((s) => s.until((r) => r.includes('event: log'), 120_000)));
    const fanOutSeconds = (performance.now() - fanned) / 1000;

    // All clients leave at once (a load balancer restarting): the process must keep answering.
    streams.forEach((s) => s.socket.destroy());
    const afterLeaving = await readyz();

    const figures = {
      connections: count, openSeconds: +openSeconds.toFixed(1), rssBeforeMiB: Math.round(rssBefore), rssHeldMiB: Math.round(rssHeld),
      kibPerConnection: Math.round(((rssHeld - rssBefore) * 1024) / count), requestP50Ms: +latencies[20].toFixed(1), requestMaxMs: +latencies[39].toFixed(1),
      fanOutSeconds: +fanOutSeconds.toFixed(2), postgresBackendsAdded: backendsHeld - backendsBefore, readyzAfterAllLeftMs: Math.round(afterLeaving.ms),
    };
    console.log(`[hostile-input] ${JSON.stringify(figures)}`);
    // Streams share the process's one LISTEN connection; their reads use the pool (at most 20).
    expect(backendsHeld - backendsBefore).toBeLessThanOrEqual(21);
    expect(latencies[39]).toBeLessThan(1_000);
    expect(afterLeaving.status).toBe(200);
    await client(null).post(`/v1/sdk/runs/${runId}/complete`, {}, { 'x-run-token': dispatch.token });
  }, 15 * 60_000);
});
