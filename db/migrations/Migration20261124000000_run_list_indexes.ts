import { Migration } from '@mikro-orm/migrations';

/** What the run lists need at a million runs (bench/list.ts): measured gaps, not guesses. */
export class Migration20261124000000_run_list_indexes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      -- metadata_key alone tests key existence (?), which jsonb_path_ops cannot serve; the default
      -- jsonb_ops serves both ? and @>, and metadata is a few keys per run.
      drop index runs_metadata;
      create index runs_metadata on runs using gin (metadata);
      -- A job's runs in one status (its failed or dead-lettered runs) without walking its history.
      create index runs_target_status_created on runs (target_id, status, created_at desc, id desc) where target_id is not null;
      -- Tenancy, kind, status and executor are correlated; the action-run list's estimated total
      -- (past the exact-count bound) comes from these.
      create statistics runs_org_kind_status (mcv) on organization_id, kind, status from runs;
      create statistics runs_org_kind_executor (mcv) on organization_id, kind, executor from runs;
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop statistics if exists runs_org_kind_executor, runs_org_kind_status;
      drop index if exists runs_target_status_created;
      drop index if exists runs_metadata;
      create index runs_metadata on runs using gin (metadata jsonb_path_ops);
    `);
  }
}
