import { Migration } from '@mikro-orm/migrations';

/** Jobs (HTTP endpoints that runs dispatch to), job-run columns, and what runs report back. */
export class Migration20261123020000_jobs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table jobs (
        id uuid primary key,
        organization_id uuid not null references organizations(id) on delete cascade,
        project_id uuid not null references projects(id) on delete cascade,
        name text not null,
        slug text not null,
        description text,
        endpoint_url text not null,
        max_attempts integer not null default 3,
        timeout_secs integer not null default 300,
        retry_strategy text not null default 'exponential',
        retry_initial_delay_secs double precision not null default 1,
        retry_max_delay_secs double precision not null default 3600,
        max_concurrency integer,
        tags jsonb not null default '{}',
        payload_schema jsonb,
        version integer not null default 1,
        created_by uuid references users(id) on delete set null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        unique (project_id, slug)
      );
      create index jobs_project_created on jobs (project_id, created_at desc, id desc);

      create table job_dependencies (
        job_id uuid not null references jobs(id) on delete cascade,
        depends_on_job_id uuid not null references jobs(id) on delete cascade,
        condition text not null default 'completed',
        created_at timestamptz not null default now(),
        primary key (job_id, depends_on_job_id)
      );

      alter table runs
        add column debug_mode boolean not null default false,
        add column continuation_of uuid,
        add column lineage_depth integer not null default 0,
        add column execution_trace jsonb,
        add column machine_preset text;
      create index runs_project_kind_status_created on runs (project_id, kind, status, created_at desc, id desc);
      create index runs_target_created on runs (target_id, created_at desc) where target_id is not null;
      create index runs_continuation on runs (continuation_of) where continuation_of is not null;

      alter table run_events add column message text;
      create index run_events_run_type on run_events (run_id, type, id);

      -- Process-wide secrets every API and worker must agree on (the run-token key unless RUN_TOKEN_SECRET is set).
      create table settings (
        key text primary key,
        value text not null,
        created_at timestamptz not null default now()
      );

      create table run_checkpoints (
        id bigserial primary key,
        run_id uuid not null references runs(id) on delete cascade,
        sequence integer not null,
        source text,
        state jsonb not null,
        created_at timestamptz not null default now(),
        unique (run_id, sequence)
      );
      create table run_usage (
        id bigserial primary key,
        run_id uuid not null references runs(id) on delete cascade,
        provider text not null,
        model text not null,
        prompt_tokens integer not null default 0,
        completion_tokens integer not null default 0,
        total_tokens integer not null default 0,
        cost_microusd bigint not null default 0,
        created_at timestamptz not null default now()
      );
      create index run_usage_run on run_usage (run_id, id);
      create table run_tool_calls (
        id bigserial primary key,
        run_id uuid not null references runs(id) on delete cascade,
        tool_name text not null,
        input jsonb,
        output jsonb,
        duration_ms integer not null default 0,
        status text not null,
        created_at timestamptz not null default now()
      );
      create index run_tool_calls_run on run_tool_calls (run_id, id);
      create table run_outputs (
        id bigserial primary key,
        run_id uuid not null references runs(id) on delete cascade,
        output_key text not null,
        schema jsonb,
        value jsonb,
        created_at timestamptz not null default now()
      );
      create index run_outputs_run on run_outputs (run_id, id);
      create table run_state (
        run_id uuid not null references runs(id) on delete cascade,
        key text not null,
        value jsonb,
        updated_at timestamptz not null default now(),
        primary key (run_id, key)
      );
    `);
  }

  override async down(): Promise<void> {
    this.addSql('alter table run_events drop column if exists message;');
    this.addSql('drop table if exists settings, run_state, run_outputs, run_tool_calls, run_usage, run_checkpoints, job_dependencies, jobs cascade;');
    this.addSql('alter table runs drop column if exists debug_mode, drop column if exists continuation_of, drop column if exists lineage_depth, drop column if exists execution_trace, drop column if exists machine_preset;');
  }
}
