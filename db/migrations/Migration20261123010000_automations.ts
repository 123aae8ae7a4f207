import { Migration } from '@mikro-orm/migrations';

/** Automations (versioned step DAGs), the version a run pins, and each run's steps. */
export class Migration20261123010000_automations extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table runs add column target_version_id uuid, add column target_version integer, add column trigger_type text;

      create table automations (
        id uuid primary key,
        organization_id uuid not null references organizations(id) on delete cascade,
        project_id uuid not null references projects(id) on delete cascade,
        name text not null,
        description text,
        current_version_id uuid,
        version_count integer not null default 0,
        paused boolean not null default false,
        created_by uuid references users(id) on delete set null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      create index automations_org_created on automations (organization_id, created_at desc, id desc);

      create table automation_versions (
        id uuid primary key,
        automation_id uuid not null references automations(id) on delete cascade,
        version_number integer not null,
        definition jsonb not null,
        created_by uuid references users(id) on delete set null,
        created_at timestamptz not null default now(),
        unique (automation_id, version_number)
      );

      create table automation_run_steps (
        run_id uuid not null references runs(id) on delete cascade,
        key text not null,
        position integer not null,
        name text not null,
        kind text not null,
        depends_on text[] not null default '{}',
        status text not null default 'pending',
        action_run_id uuid,
        decision_id uuid,
        result jsonb,
        error jsonb,
        started_at timestamptz,
        completed_at timestamptz,
        primary key (run_id, key)
      );
    `);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists automation_run_steps, automation_versions, automations cascade;');
    this.addSql('alter table runs drop column if exists target_version_id, drop column if exists target_version, drop column if exists trigger_type;');
  }
}
