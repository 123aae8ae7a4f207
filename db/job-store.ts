import type { Knex } from '@mikro-orm/knex';
import { newId } from '../core/ids';
import type { RunRow } from './entities';
import { RUN_CHANNEL } from './run-store';
import { jsonb, one, rows } from './sql';

export interface JobRow {
  id: string;
  organizationId: string;
  projectId: string;
  name: string;
  slug: string;
  description: string | null;
  endpointUrl: string;
  maxAttempts: number;
  timeoutSecs: number;
  retryStrategy: 'exponential' | 'linear' | 'fixed';
  retryInitialDelaySecs: number;
  retryMaxDelaySecs: number;
  maxConcurrency: number | null;
  tags: Record<string, string>;
  payloadSchema: Record<string, unknown> | null;
  version: number;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type JobFields = Omit<JobRow, 'id' | 'organizationId' | 'projectId' | 'version' | 'createdBy' | 'createdAt' | 'updatedAt'>;

export interface DependencyRow {
  jobId: string;
  dependsOnJobId: string;
  condition: 'completed' | 'failed' | 'any';
  createdAt: Date;
}

export interface RunListFilter {
  projectId: string;
  status?: string;
  jobId?: string;
  metadataKey?: string;
  metadataValue?: string;
  triggeredBy?: string;
  batchId?: string;
  payloadContains?: Record<string, unknown>;
  parentId?: string;
  cursor?: string;
  limit: number;
}

type Db = Knex | Knex.Transaction;

/** Rows with the cursor value (`created_at` at full precision) alongside. */
export type RunWithCursor = RunRow & { cursor: string };
const CURSOR_SQL = `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor`;
/** How many of the newest candidate runs a metadata or payload filter reads in order before turning to its index. */
const JSON_FILTER_WINDOW = 10_000;

/** Jobs, their dependencies, job-run listing, and what runs report through the callback API. */
export class JobStore {
  constructor(readonly knex: Knex) {}

  async createJob(scope: { organizationId: string; projectId: string; userId: string }, f: JobFields): Promise<JobRow> {
    return (await one<JobRow>(this.knex,
      `insert into jobs (id, organization_id, project_id, name, slug, description, endpoint_url, max_attempts, timeout_secs,
         retry_strategy, retry_initial_delay_secs, retry_max_delay_secs, max_concurrency, tags, payload_schema, created_by)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?) returning *`,
      [newId(), scope.organizationId, scope.projectId, f.name, f.slug, f.description, f.endpointUrl, f.maxAttempts, f.timeoutSecs,
        f.retryStrategy, f.retryInitialDelaySecs, f.retryMaxDelaySecs, f.maxConcurrency, JSON.stringify(f.tags ?? {}), jsonb(f.payloadSchema), scope.userId],
    ))!;
  }

  async updateJob(id: string, f: Partial<JobFields>): Promise<JobRow> {
    const cols: Record<keyof JobFields, string> = {
      name: 'name', slug: 'slug', description: 'description', endpointUrl: 'endpoint_url', maxAttempts: 'max_attempts',
      timeoutSecs: 'timeout_secs', retryStrategy: 'retry_strategy', retryInitialDelaySecs: 'retry_initial_delay_secs',
      retryMaxDelaySecs: 'retry_max_delay_secs', maxConcurrency: 'max_concurrency', tags: 'tags', payloadSchema: 'payload_schema',
    };
    const sets = ['version = version + 1', 'updated_at = now()'];
    const vals: unknown[] = [];
    for (const [k, col] of Object.entries(cols) as [keyof JobFields, string][]) {
      if (f[k] === undefined) continue;
      const json = k === 'tags' || k === 'payloadSchema';
      sets.push(`${col} = ?${json ? '::jsonb' : ''}`);
      vals.push(json ? jsonb(f[k]) : f[k]);
    }
    return (await one<JobRow>(this.knex, `update jobs set ${sets.join(', ')} where id = ? returning *`, [...vals, id]))!;
  }

  getJob(id: string, db: Db = this.knex): Promise<JobRow | null> {
    return one<JobRow>(db, 'select * from jobs where id = ?', [id]);
  }

  listJobs(projectId: string, limit: number, cursor?: string): Promise<(JobRow & { cursor: string })[]> {
    return rows(this.knex, `select *, ${CURSOR_SQL} from jobs where project_id = ? ${cursor ? 'and created_at < ?::timestamptz' : ''}
      order by created_at desc, id desc limit ?`, cursor ? [projectId, cursor, limit] : [projectId, limit]);
  }

  async deleteJob(id: string): Promise<void> {
    await this.knex.raw('delete from jobs where id = ?', [id]);
  }

  async addDependency(jobId: string, dependsOnJobId: string, condition: string): Promise<DependencyRow> {
    return (await one<DependencyRow>(this.knex,
      `insert into job_dependencies (job_id, depends_on_job_id, condition) values (?, ?, ?)
       on conflict (job_id, depends_on_job_id) do update set condition = excluded.condition returning *`, [jobId, dependsOnJobId, condition]))!;
  }

  dependencies(jobId: string, db: Db = this.knex): Promise<DependencyRow[]> {
    return rows<DependencyRow>(db, 'select * from job_dependencies where job_id = ? order by created_at', [jobId]);
  }

  async removeDependency(jobId: string, dependsOnJobId: string): Promise<boolean> {
    const res = await this.knex.raw('delete from job_dependencies where job_id = ? and depends_on_job_id = ?', [jobId, dependsOnJobId]);
    return res.rowCount > 0;
  }

  /** True when adding job → dependsOn would close a cycle. */
  async wouldCycle(jobId: string, dependsOnJobId: string): Promise<boolean> {
    const hit = await one(this.knex, `with recursive up as (
        select depends_on_job_id as id from job_dependencies where job_id = ?
        union select d.depends_on_job_id from job_dependencies d join up on d.job_id = up.id)
      select 1 as hit from up where id = ? limit 1`, [dependsOnJobId, jobId]);
    return jobId === dependsOnJobId || !!hit;
  }

  /** The latest run of each dependency job created before `before`, with whether it satisfies its condition. */
  async dependencyStatus(jobId: string, projectId: string, before: Date) {
    const deps = await this.dependencies(jobId);
    const latest = await Promise.all(deps.map((d) => one<RunRow>(this.knex,
      `select * from runs where target_id = ? and project_id = ? and kind = 'job' and created_at <= ? order by created_at desc limit 1`,
      [d.dependsOnJobId, projectId, before])));
    const TERMINAL_FAILURES = ['failed', 'timed_out', 'crashed', 'system_failed', 'canceled', 'expired', 'dead_letter'];
    const verdicts = deps.map((d, i) => {
      const run = latest[i];
      if (!run) return 'pending';
      const ok = d.condition === 'completed' ? run.status === 'completed'
        : d.condition === 'failed' ? TERMINAL_FAILURES.includes(run.status)
          : run.status === 'completed' || TERMINAL_FAILURES.includes(run.status);
      if (ok) return 'satisfied';
      const finished = run.status === 'completed' || TERMINAL_FAILURES.includes(run.status);
      return finished ? 'unsatisfiable' : 'pending';
    });
    return { deps, runs: latest, verdicts };
  }

  /**
   * A keyset page of job runs, newest first; every filter has an index (see migrations). A metadata
   * or payload filter first reads the newest JSON_FILTER_WINDOW candidates in time order, where a
   * common value fills the page, and only then its GIN index: the planner cannot know that all of a
   * value's matches lie far back in time, and the ordered scan it picks for a value it believes
   * common would then read the whole history.
   */
  async listRuns(f: RunListFilter): Promise<RunWithCursor[]> {
    const where = ['project_id = ?', "kind = 'job'"];
    const vals: unknown[] = [f.projectId];
    if (f.status) { where.push('status = ?'); vals.push(f.status); }
    if (f.jobId) { where.push('target_id = ?'); vals.push(f.jobId); }
    if (f.triggeredBy) { where.push('trigger_method = ?'); vals.push(f.triggeredBy); }
    if (f.batchId) { where.push('batch_id = ?'); vals.push(f.batchId); }
    if (f.parentId) { where.push('parent_id = ?'); vals.push(f.parentId); }
    if (f.cursor) { where.push('created_at < ?::timestamptz'); vals.push(f.cursor); }
    const json: string[] = [];
    const jsonVals: unknown[] = [];
    if (f.metadataKey && f.metadataValue !== undefined) { json.push('metadata @> ?::jsonb'); jsonVals.push(JSON.stringify({ [f.metadataKey]: f.metadataValue })); }
    else if (f.metadataKey) { json.push('metadata \\? ?'); jsonVals.push(f.metadataKey); }
    if (f.payloadContains) { json.push('input @> ?::jsonb'); jsonVals.push(JSON.stringify(f.payloadContains)); }

    const order = 'order by created_at desc, id desc';
    if (json.length === 0) return rows<RunWithCursor>(this.knex, `select *, ${CURSOR_SQL} from runs where ${where.join(' and ')} ${order} limit ?`, [...vals, f.limit]);
    const recent = await rows<RunWithCursor>(this.knex, `select *, ${CURSOR_SQL} from (select * from runs where ${where.join(' and ')} ${order} limit ${JSON_FILTER_WINDOW}) r
      where ${json.join(' and ')} ${order} limit ?`, [...vals, ...jsonVals, f.limit]);
    if (recent.length >= f.limit) return recent;
    // Materialized, so the planner picks the match set's best plan (the GIN index) instead of an ordered scan.
    return rows<RunWithCursor>(this.knex, `with m as materialized (select id, created_at from runs where ${[...where, ...json].join(' and ')})
      select runs.*, ${CURSOR_SQL} from (select id from m ${order} limit ?) page join runs using (id) ${order}`, [...vals, ...jsonVals, f.limit]);
  }

  // --- what runs report back (callback API) ---

  private async append(runId: string, sql: string, vals: unknown[], trx?: Knex.Transaction) {
    const work = async (t: Knex.Transaction) => {
      const row = (await t.raw(sql, vals as Knex.RawBinding[])).rows[0];
      await t.raw('select pg_notify(?, ?)', [RUN_CHANNEL, runId]);
      return row;
    };
    return trx ? work(trx) : this.knex.transaction(work);
  }

  addCheckpoint(runId: string, state: unknown, source: string | null) {
    return this.knex.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?::text, 0))', [runId]);
      return this.append(runId, `insert into run_checkpoints (run_id, sequence, source, state)
        values (?, (select coalesce(max(sequence), 0) + 1 from run_checkpoints where run_id = ?), ?, ?::jsonb) returning *`,
      [runId, runId, source, JSON.stringify(state ?? null)], trx);
    });
  }

  addUsage(runId: string, u: { provider: string; model: string; promptTokens: number; completionTokens: number; totalTokens: number; costMicrousd: number }) {
    return this.append(runId, `insert into run_usage (run_id, provider, model, prompt_tokens, completion_tokens, total_tokens, cost_microusd)
      values (?, ?, ?, ?, ?, ?, ?) returning *`, [runId, u.provider, u.model, u.promptTokens, u.completionTokens, u.totalTokens, u.costMicrousd]);
  }

  addToolCall(runId: string, t: { toolName: string; input: unknown; output: unknown; durationMs: number; status: string }) {
    return this.append(runId, `insert into run_tool_calls (run_id, tool_name, input, output, duration_ms, status)
      values (?, ?, ?::jsonb, ?::jsonb, ?, ?) returning *`, [runId, t.toolName, jsonb(t.input), jsonb(t.output), t.durationMs, t.status]);
  }

  addOutput(runId: string, o: { outputKey: string; schema: unknown; value: unknown }) {
    return this.append(runId, `insert into run_outputs (run_id, output_key, schema, value) values (?, ?, ?::jsonb, ?::jsonb) returning *`,
      [runId, o.outputKey, jsonb(o.schema), jsonb(o.value)]);
  }

  async setState(runId: string, key: string, value: unknown): Promise<void> {
    await this.knex.raw(`insert into run_state (run_id, key, value) values (?, ?, ?::jsonb)
      on conflict (run_id, key) do update set value = excluded.value, updated_at = now()`, [runId, key, jsonb(value)]);
  }

  getState(runId: string, key?: string) {
    return key
      ? one<{ key: string; value: unknown; updatedAt: Date }>(this.knex, 'select key, value, updated_at from run_state where run_id = ? and key = ?', [runId, key])
      : rows<{ key: string; value: unknown; updatedAt: Date }>(this.knex, 'select key, value, updated_at from run_state where run_id = ? order by key', [runId]);
  }

  async deleteState(runId: string, key: string): Promise<boolean> {
    return (await this.knex.raw('delete from run_state where run_id = ? and key = ?', [runId, key])).rowCount > 0;
  }

  listOf(table: 'run_checkpoints' | 'run_usage' | 'run_tool_calls' | 'run_outputs', runId: string, limit = 100, after?: string) {
    const order = table === 'run_checkpoints' ? 'sequence' : 'id';
    return rows<Record<string, unknown>>(this.knex, `select * from ${table} where run_id = ? ${after ? 'and created_at > ?::timestamptz' : ''} order by ${order} limit ?`,
      after ? [runId, after, limit] : [runId, limit]);
  }

  /** The settings row for `key`, created with `make()` the first time (shared by every process). */
  async setting(key: string, make: () => string): Promise<string> {
    await this.knex.raw('insert into settings (key, value) values (?, ?) on conflict (key) do nothing', [key, make()]);
    return (await one<{ value: string }>(this.knex, 'select value from settings where key = ?', [key]))!.value;
  }
}
