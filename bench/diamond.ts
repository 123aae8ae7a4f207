import { api, pct, writeResult } from './lib';

/**
 * Wall time of a diamond DAG (A → B, C → D) of no-op steps, from `POST …/runs` to `completed`,
 * against a running stack (`npm start`; reads DATA_DIR/stack.json). Usage:
 *   BOOTSTRAP_API_KEY=... npx tsx bench/diamond.ts [runs=10]
 */
const runs = Number(process.argv[2] ?? 10);

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
  const result = {
    benchmark: 'diamond', runs,
    wall_ms: { p50: Math.round(pct(walls, 50)), p95: Math.round(pct(walls, 95)), min: Math.round(Math.min(...walls)) },
    run_duration_ms: { p50: Math.round(pct(recorded, 50)), p95: Math.round(pct(recorded, 95)) },
  };
  console.table({ 'wall (POST → completed)': result.wall_ms, 'run startedAt → completedAt': result.run_duration_ms });
  writeResult('diamond', result);
}
main().catch((err) => { console.error(err); process.exit(1); });
