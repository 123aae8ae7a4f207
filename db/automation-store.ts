import type { Knex } from '@mikro-orm/knex';
import { newId } from '../core/ids';
import { RUN_CHANNEL } from './run-store';
import { jsonb, one, rows } from './sql';

export interface StepDefinition {
  key: string;
  name: string;
  kind: string;
  definition: Record<string, unknown>;
  dependsOn: string[];
}

export interface AutomationDefinition {
  name: string;
  description: string | null;
  concurrencyKey: string | null;
  steps: StepDefinition[];
  schedule: { cron: string; timezone: string } | null;
}

export interface AutomationRow {
  id: string;
  organizationId: string;
  projectId: string;
  name: string;
  description: string | null;
  currentVersionId: string;
  versionCount: number;
  paused: boolean;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface AutomationVersionRow {
  id: string;
  automationId: string;
  versionNumber: number;
  definition: AutomationDefinition;
  createdBy: string | null;
  createdAt: Date;
}

export interface RunStepRow {
  runId: string;
  key: string;
  position: number;
  name: string;
  kind: string;
  dependsOn: string[];
  status: string;
  actionRunId: string | null;
  decisionId: string | null;
  result: unknown;
  error: unknown;
  startedAt: Date | null;
  completedAt: Date | null;
}

type Db = Knex | Knex.Transaction;

/** Automations, their immutable versions, and the steps of automation runs. */
export class AutomationStore {
  constructor(readonly knex: Knex) {}

  /** Saves a definition as a new version and makes it current (the first save creates the automation). */
  async saveVersion(
    scope: { organizationId: string; projectId: string; userId: string },
    def: AutomationDefinition,
    automationId?: string,
    paused?: boolean,
  ): Promise<{ automation: AutomationRow; version: AutomationVersionRow }> {
    return this.knex.transaction(async (trx) => {
      const id = automationId ?? newId();
      if (!automationId) {
        await trx.raw(
          `insert into automations (id, organization_id, project_id, name, description, created_by) values (?, ?, ?, ?, ?, ?)`,
          [id, scope.organizationId, scope.projectId, def.name, def.description, scope.userId],
        );
      }
      const locked = await one<{ versionCount: number }>(trx, 'select version_count from automations where id = ? for update', [id]);
      const versionNumber = (locked?.versionCount ?? 0) + 1;
      const version = (await one<AutomationVersionRow>(
        trx,
        `insert into automation_versions (id, automation_id, version_number, definition, created_by) values (?, ?, ?, ?::jsonb, ?) returning *`,
        [newId(), id, versionNumber, JSON.stringify(def), scope.userId],
      ))!;
      const automation = (await one<AutomationRow>(
        trx,
        `update automations set name = ?, description = ?, current_version_id = ?, version_count = ?,
           paused = coalesce(?, paused), updated_at = now() where id = ? returning *`,
        [def.name, def.description, version.id, versionNumber, paused ?? null, id],
      ))!;
      return { automation, version };
    });
  }

  async setPaused(id: string, paused: boolean): Promise<AutomationRow> {
    return (await one<AutomationRow>(this.knex, 'update automations set paused = ?, updated_at = now() where id = ? returning *', [paused, id]))!;
  }

  get(id: string, db: Db = this.knex): Promise<AutomationRow | null> {
    return one<AutomationRow>(db, 'select * from automations where id = ?', [id]);
  }

  version(id: string, db: Db = this.knex): Promise<AutomationVersionRow | null> {
    return one<AutomationVersionRow>(db, 'select * from automation_versions where id = ?', [id]);
  }

  versions(automationId: string): Promise<AutomationVersionRow[]> {
    return rows<AutomationVersionRow>(this.knex, 'select * from automation_versions where automation_id = ? order by version_number desc', [automationId]);
  }

  async list(organizationId: string, limit: number, offset: number): Promise<{ items: AutomationRow[]; total: number }> {
    const [items, count] = await Promise.all([
      rows<AutomationRow>(this.knex, 'select * from automations where organization_id = ? order by created_at desc, id desc limit ? offset ?', [organizationId, limit, offset]),
      one<{ n: string }>(this.knex, 'select count(*) as n from automations where organization_id = ?', [organizationId]),
    ]);
    return { items, total: Number(count?.n ?? 0) };
  }

  async delete(id: string): Promise<void> {
    await this.knex.raw('delete from automations where id = ?', [id]);
  }

  async insertSteps(runId: string, steps: StepDefinition[], db: Db = this.knex): Promise<void> {
    if (steps.length === 0) return;
    await db.raw(
      `insert into automation_run_steps (run_id, key, position, name, kind, depends_on)
       select ?, s.key, s.position, s.name, s.kind, s.depends_on
       from jsonb_to_recordset(?::jsonb) as s(key text, position int, name text, kind text, depends_on text[])`,
      [runId, JSON.stringify(steps.map((s, i) => ({ key: s.key, position: i, name: s.name, kind: s.kind, depends_on: s.dependsOn })))],
    );
  }

  steps(runId: string, db: Db = this.knex): Promise<RunStepRow[]> {
    return rows<RunStepRow>(db, 'select * from automation_run_steps where run_id = ? order by position', [runId]);
  }

  /** Puts re-run steps back to pending (a retry in place), in the caller's transaction. */
  async resetSteps(runId: string, keys: string[], db: Db): Promise<void> {
    if (keys.length === 0) return;
    await db.raw(
      `update automation_run_steps set status = 'pending', action_run_id = null, decision_id = null, result = null,
         error = null, started_at = null, completed_at = null where run_id = ? and key = any(?)`,
      [runId, keys],
    );
  }

  /**
   * Updates one step and appends its event (`step.<status>`) in one transaction, idempotently by
   * dedupe key, announced on RUN_CHANNEL.
   */
  async updateStep(
    runId: string, key: string,
    patch: { status: string; actionRunId?: string | null; decisionId?: string | null; result?: unknown; error?: unknown },
    dedupeKey: string,
    eventType = `step.${patch.status === 'running' ? 'started' : patch.status}`,
  ): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?::text, 0))', [runId]);
      const inserted = await trx.raw(
        `insert into run_events (run_id, type, level, data, dedupe_key) values (?, ?, ?, ?::jsonb, ?) on conflict do nothing returning id`,
        [runId, eventType, patch.status === 'failed' ? 'error' : 'info',
          JSON.stringify({ stepKey: key, status: patch.status, actionRunId: patch.actionRunId ?? null, error: patch.error ?? null }), dedupeKey],
      );
      if (inserted.rows.length === 0) return;
      const sets = ['status = ?'];
      const vals: unknown[] = [patch.status];
      if (patch.actionRunId !== undefined) { sets.push('action_run_id = ?'); vals.push(patch.actionRunId); }
      if (patch.decisionId !== undefined) { sets.push('decision_id = ?'); vals.push(patch.decisionId); }
      if (patch.result !== undefined) { sets.push('result = ?::jsonb'); vals.push(jsonb(patch.result)); }
      if (patch.error !== undefined) { sets.push('error = ?::jsonb'); vals.push(jsonb(patch.error)); }
      if (patch.status === 'running') sets.push('started_at = coalesce(started_at, now())');
      if (['completed', 'failed', 'cancelled', 'skipped'].includes(patch.status)) sets.push('completed_at = now()');
      await trx.raw(`update automation_run_steps set ${sets.join(', ')} where run_id = ? and key = ?`, [...vals, runId, key] as Knex.RawBinding[]);
      await trx.raw('select pg_notify(?, ?)', [RUN_CHANNEL, runId]);
    });
  }
}
