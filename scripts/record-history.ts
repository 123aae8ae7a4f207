import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * Records action-run workflow histories for the replay test, by driving scenarios through the
 * API of a running stack (`npm start` with BOOTSTRAP_API_KEY, or DATA_DIR pointing at it).
 * Run it after changing a workflow on purpose, and commit the new fixtures.
 */
const dataDir = path.resolve(process.env.DATA_DIR || '.data');
const stack = JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8'));
const key = process.env.BOOTSTRAP_API_KEY ?? process.env.TIDEWAY_API_KEY;
const out = path.resolve(__dirname, '../test/fixtures/histories');

async function api(method: string, url: string, body?: unknown) {
  const res = await fetch(stack.apiUrl + url, {
    method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });
  return res.json() as Promise<any>;
}
async function until(id: string, status: string) {
  for (let i = 0; i < 300; i++) {
    if ((await api('GET', `/api/v1/action-runs/${id}`)).status === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${id} never reached ${status}`);
}
async function run(kind: string, definition: unknown, extra: Record<string, unknown> = {}) {
  const created = await api('POST', '/api/v1/action-runs', { kind, definition, ...extra });
  await api('POST', `/api/v1/action-runs/${created.id}/execute`);
  return created.id as string;
}

async function main() {
  if (!key) throw new Error('set BOOTSTRAP_API_KEY (or TIDEWAY_API_KEY) to a key of the running stack');
  const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }), namespace: stack.namespace });
  const scenarios: Record<string, () => Promise<string>> = {
    // Concurrency slot, approval update, executor activity, completion.
    'approved-branch-with-key': async () => {
      const id = await run('conditional_branch', { expression: 'x * 2', input: { x: 21 }, requiresApproval: true }, { concurrencyKey: 'replay' });
      await until(id, 'waiting_approval');
      await api('POST', `/api/v1/action-runs/${id}/approve`);
      await until(id, 'completed');
      return id;
    },
    // Pause and resume while queued behind a key, then cancellation.
    'paused-then-cancelled': async () => {
      const holder = await run('approval_gate', {}, { concurrencyKey: 'replay-2' });
      await until(holder, 'waiting_approval');
      const id = await run('conditional_branch', { expression: 'true' }, { concurrencyKey: 'replay-2' });
      await api('POST', `/api/v1/action-runs/${id}/pause`);
      await api('POST', `/api/v1/action-runs/${id}/resume`);
      await api('POST', `/api/v1/action-runs/${id}/cancel`);
      await until(id, 'cancelled');
      await api('POST', `/api/v1/action-runs/${holder}/reject`, { reason: 'done' });
      return id;
    },
    // A DAG with a parallel pair, a template, an approval wait and a false branch.
    'automation-dag': async () => {
      const automation = await api('POST', '/api/v1/automations', {
        name: 'replay', steps: [
          { key: 'a', kind: 'conditional_branch', definition: { expression: '2' } },
          { key: 'b', kind: 'conditional_branch', definition: { expression: 'x', input: { x: '{{steps.a.result.value}}' } }, dependsOn: ['a'] },
          { key: 'gate', kind: 'approval_gate', definition: {}, dependsOn: ['a'] },
          { key: 'no', kind: 'conditional_branch', definition: { expression: 'false' }, dependsOn: ['b', 'gate'] },
          { key: 'skipped', kind: 'conditional_branch', definition: { expression: '1' }, dependsOn: ['no'] },
        ],
      });
      const run = await api('POST', `/api/v1/automations/${automation.id}/runs`, {});
      for (let i = 0; i < 300; i++) {
        const steps = await api('GET', `/api/v1/automation-runs/${run.id}/steps`);
        const gate = steps.steps.find((s: any) => s.key === 'gate');
        if (gate.status === 'waiting') {
          await api('POST', `/api/v1/action-runs/${gate.actionRunId}/approve`);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 0; i < 300 && (await api('GET', `/api/v1/automation-runs/${run.id}`)).status !== 'completed'; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      return run.id as string;
    },
    // A job run: a retryable failure, then an async (202) attempt finished through the callback API.
    'job-retry-then-callback': async () => {
      const http = await import('node:http');
      let calls = 0;
      let token = '';
      const server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          calls++;
          token = String(req.headers['x-run-token']);
          res.writeHead(calls === 1 ? 503 : 202);
          res.end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const job = await api('POST', '/v1/jobs', { name: 'replay', slug: `replay-${Date.now()}`, endpoint_url: `http://127.0.0.1:${port}/`, retry_initial_delay_secs: 0.1 });
      const run = await api('POST', `/v1/jobs/${job.id}/trigger`, { payload: { n: 1 } });
      for (let i = 0; i < 300 && calls < 2; i++) await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 300 && (await api('GET', `/v1/runs/${run.id}`)).status !== 'executing'; i++) await new Promise((r) => setTimeout(r, 100));
      await fetch(`${stack.apiUrl}/v1/sdk/runs/${run.id}/complete`, { method: 'POST', headers: { 'x-run-token': token, 'content-type': 'application/json' }, body: JSON.stringify({ result: { ok: true } }) });
      for (let i = 0; i < 300 && (await api('GET', `/v1/runs/${run.id}`)).status !== 'completed'; i++) await new Promise((r) => setTimeout(r, 100));
      server.close();
      return run.id as string;
    },
  };
  fs.mkdirSync(out, { recursive: true });
  const only = process.argv.slice(2);
  for (const [name, scenario] of Object.entries(scenarios).filter(([n]) => only.length === 0 || only.includes(n))) {
    const id = await scenario();
    await client.workflow.getHandle(id).result().catch(() => undefined);
    const history = await client.workflow.getHandle(id).fetchHistory();
    const file = name.startsWith('automation') || name.startsWith('job') ? `${name}.json` : `action-run.${name}.json`;
    fs.writeFileSync(path.join(out, file), historyToJSON(history));
    console.log(`recorded ${name} (${history.events?.length} events)`);
  }
  await client.connection.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
