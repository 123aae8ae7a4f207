import { Migration } from '@mikro-orm/migrations';

/** Housekeeping reads only what it may act on, not the whole runs table (a scan per run of it at 1M runs). */
export class Migration20261124010000_housekeeping_indexes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      -- Retention: finished runs by completion time.
      create index runs_completed_at on runs (completed_at) where completed_at is not null;
      -- Reconciler: open runs (no completion time) that have not moved for a while.
      create index runs_open_updated_at on runs (updated_at) where completed_at is null;
    `);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists runs_open_updated_at; drop index if exists runs_completed_at;');
  }
}
