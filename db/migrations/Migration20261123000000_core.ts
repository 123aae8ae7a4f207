import { Migration } from '@mikro-orm/migrations';

/** Tenancy, the one `runs` table every run kind shares, and its events and logs. */
export class Migration20261123000000_core extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table organizations (
        id uuid primary key,
        name text not null,
        created_at timestamptz not null default now()
      );
      create table projects (
        id uuid primary key,
        organization_id uuid not null references organizations(id) on delete cascade,
        name text not null,
        slug text not null,
        task_queue text,
        created_at timestamptz not null default now(),
        unique (organization_id, slug)
      );
      create table users (
        id uuid primary key,
        organization_id uuid not null references organizations(id) on delete cascade,
        email text not null,
        first_name text,
        last_name text,
        profile_picture_url text,
        role text not null default 'member',
        created_at timestamptz not null default now(),
        unique (organization_id, email)
      );
      create table api_keys (
        id uuid primary key,
        organization_id uuid not null references organizations(id) on delete cascade,
        project_id uuid not null references projects(id) on delete cascade,
        user_id uuid not null references users(id) on delete cascade,
        name text not null,
        prefix text not null,
        key_hash text not null unique,
        scopes text[] not null default '{}',
        created_at timestamptz not null default now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      );

      create table runs (
        id uuid primary key,
        kind text not null,
        executor text,
        target_id uuid,
        organization_id uuid not null references organizations(id) on delete cascade,
        project_id uuid not null references projects(id) on delete cascade,
        created_by uuid references users(id) on delete set null,
        status text not null,
        input jsonb,
        result jsonb,
        error jsonb,
        progress jsonb,
        attempt integer not null default 0,
        max_attempts integer not null default 1,
        retry_count integer not null default 0,
        interrupt_count integer not null default 0,
        parent_id uuid references runs(id) on delete set null,
        root_id uuid not null,
        depth integer not null default 0,
        idempotency_key text,
        concurrency_key text,
        priority integer not null default 0,
        tags jsonb not null default '{}',
        metadata jsonb not null default '{}',
        trigger_method text not null default 'api',
        trigger_source_type text not null default 'api_key',
        trigger_source_id text,
        batch_id uuid,
        scheduled_at timestamptz,
        expires_at timestamptz,
        next_retry_at timestamptz,
        heartbeat_at timestamptz,
        workflow_run_id text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        started_at timestamptz,
        completed_at timestamptz
      );
      -- Every list filter of the five references has an index; lists are newest first.
      create index runs_org_kind_created on runs (organization_id, kind, created_at desc, id desc);
      create index runs_org_kind_status_created on runs (organization_id, kind, status, created_at desc, id desc);
      create index runs_org_kind_executor_created on runs (organization_id, kind, executor, created_at desc, id desc);
      create index runs_org_target_created on runs (organization_id, target_id, created_at desc, id desc) where target_id is not null;
      create index runs_project_kind_created on runs (project_id, kind, created_at desc, id desc);
      create index runs_project_status_created on runs (project_id, status, created_at desc, id desc);
      create index runs_parent_created on runs (parent_id, created_at) where parent_id is not null;
      create index runs_root on runs (root_id, depth, created_at);
      create index runs_batch on runs (batch_id, created_at desc) where batch_id is not null;
      create index runs_trigger_method on runs (project_id, trigger_method, created_at desc);
      create index runs_metadata on runs using gin (metadata jsonb_path_ops);
      create index runs_input on runs using gin (input jsonb_path_ops);
      create index runs_concurrency on runs (organization_id, concurrency_key, status) where concurrency_key is not null;
      create unique index runs_idempotency on runs (organization_id, kind, coalesce(executor, ''), idempotency_key)
        where idempotency_key is not null;

      create table run_events (
        id bigserial primary key,
        run_id uuid not null references runs(id) on delete cascade,
        type text not null,
        level text not null default 'info',
        data jsonb not null default '{}',
        dedupe_key text,
        created_at timestamptz not null default now()
      );
      create index run_events_run on run_events (run_id, id);
      create unique index run_events_dedupe on run_events (run_id, dedupe_key) where dedupe_key is not null;

      create table run_logs (
        id bigserial primary key,
        run_id uuid not null references runs(id) on delete cascade,
        attempt integer not null default 1,
        worker_id text,
        level text not null default 'info',
        event text not null default 'log',
        message text not null,
        data jsonb,
        dedupe_key text,
        occurred_at timestamptz not null default now()
      );
      create index run_logs_run on run_logs (run_id, id);
      create unique index run_logs_dedupe on run_logs (run_id, dedupe_key) where dedupe_key is not null;
    `);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists run_logs, run_events, runs, api_keys, users, projects, organizations cascade;');
  }
}
