import type { Knex } from '@mikro-orm/knex';

/** Converts a snake_case row from Postgres into the camelCase shape the code uses. */
export function camelRow<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out as T;
}

export async function rows<T>(db: Knex | Knex.Transaction, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  const res = await db.raw(sql, bindings as Knex.RawBinding[]);
  return (res.rows as Record<string, unknown>[]).map((r) => camelRow<T>(r));
}

export async function one<T>(db: Knex | Knex.Transaction, sql: string, bindings: readonly unknown[] = []): Promise<T | null> {
  return (await rows<T>(db, sql, bindings))[0] ?? null;
}

/** JSON values are bound as text and cast, so arrays and strings are never mistaken for SQL arrays. */
export const jsonb = (value: unknown): string | null => (value === undefined || value === null ? null : JSON.stringify(value));

/**
 * count(*) over `from … where …` that reads at most `cap` + 1 rows: exact up to `cap`, past it the
 * planner's estimate (never below cap + 1), so a total never costs a scan of a tenant's history.
 */
export async function boundedCount(db: Knex | Knex.Transaction, fromWhere: string, bindings: readonly unknown[], cap: number): Promise<{ count: number; exact: boolean }> {
  const counted = await one<{ n: number }>(db, `select count(*)::int as n from (select 1 ${fromWhere} limit ${cap + 1}) t`, bindings);
  if (counted!.n <= cap) return { count: counted!.n, exact: true };
  const plan = (await db.raw(`explain (format json) select 1 ${fromWhere}`, bindings as Knex.RawBinding[])).rows[0]['QUERY PLAN'] as { Plan: { 'Plan Rows': number } }[];
  return { count: Math.max(cap + 1, Math.round(plan[0].Plan['Plan Rows'])), exact: false };
}
