import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Dispatch {
  path: string;
  runId: string;
  jobId: string;
  attempt: number;
  token: string;
  preset: string | null;
  payload: any;
  at: number;
}

export type Behaviour = (d: Dispatch) => { status: number; body?: unknown } | 'hang' | Promise<{ status: number; body?: unknown } | 'hang'>;

/**
 * A job endpoint inside the test process: each path has a scripted behaviour (by default 200 with
 * the payload echoed); every dispatch is recorded with its headers.
 */
export async function jobEndpoint() {
  const dispatches: Dispatch[] = [];
  const behaviours = new Map<string, Behaviour>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      const d: Dispatch = {
        path: req.url ?? '/', runId: String(req.headers['x-run-id']), jobId: String(req.headers['x-job-id']),
        attempt: Number(req.headers['x-attempt']), token: String(req.headers['x-run-token']),
        preset: (req.headers['x-machine-preset'] as string) ?? null, payload: raw ? JSON.parse(raw) : null, at: Date.now(),
      };
      dispatches.push(d);
      const behaviour = behaviours.get(d.path.split('?')[0]) ?? ((x: Dispatch) => ({ status: 200, body: { echoed: x.payload } }));
      const out = await behaviour(d);
      if (out === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(out.status, { 'content-type': 'application/json' });
      res.end(out.body === undefined ? '' : JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    dispatches,
    on(path: string, b: Behaviour) {
      behaviours.set(path, b);
      return `${base}${path}`;
    },
    for: (runId: string) => dispatches.filter((d) => d.runId === runId),
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
