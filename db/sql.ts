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
