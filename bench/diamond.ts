import fs from 'node:fs';
import path from 'node:path';

/**
 * Wall time of a diamond DAG (A → B, C → D) of no-op steps, from `POST …/runs` to `completed`,
 * against a running stack (`npm start`; reads DATA_DIR/stack.json). Usage:
 *   BOOTSTRAP_API_KEY=... npx tsx bench/diamond.ts [runs=10]
 */
const dataDir = path.resolve(process.env.DATA_DIR || '.data');
const stack = JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8'));
const key = process.env.BOOTSTRAP_API_KEY ?? process.env.TIDEWAY_API_KEY;
const runs = Number(process.argv[2] ?? 10);

async function api(method: string, url: string, body?: unknown) {
  const res = await fetch(stack.apiUrl + url, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  return res.json() as Promise<any>;
}

async function main() {
  const noop = (k: string, deps: string[] = []) => ({ key: k, kind: 'conditional_branch', definition: { expression: 'true' }, dependsOn: deps });
  const automation = await api('POST', '/api/v1/automations', { name: 'bench-diamond', steps: [noop('a'), noop('b', ['a']), noop('c', ['a']), noop('d', ['b', 'c'])] });
  const walls: number[] = [];
  const recorded: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const run = await api('POST', `/api/v1/automations/${automation.id}/runs`, {});
    let status = run.status;
    let last = run;
    while (!['completed', 'failed', 'cancelled'].includes(status)) {
      await new Promise((r) => setTimeout(r, 10));
      last = await api('GET', `/api/v1/automation-runs/${run.id}`);
      status = last.status;
    }
    walls.push(performance.now() - t0);
    recorded.push(last.durationSeconds * 1000);
  }
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  const result = {
    benchmark: 'diamond', runs,
    wall_ms: { p50: Math.round(pct(walls, 50)), p95: Math.round(pct(walls, 95)), min: Math.round(Math.min(...walls)) },
    run_duration_ms: { p50: Math.round(pct(recorded, 50)), p95: Math.round(pct(recorded, 95)) },
  };
  console.table({ 'wall (POST → completed)': result.wall_ms, 'run startedAt → completedAt': result.run_duration_ms });
  console.log(JSON.stringify(result));
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'diamond.json'), JSON.stringify(result, null, 2));
}
main().catch((err) => { console.error(err); process.exit(1); });
