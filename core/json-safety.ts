/**
 * Postgres cannot store a NUL character in text or jsonb, nor an unpaired UTF-16 surrogate in jsonb.
 * Input carrying one is refused up front (a 4xx naming the field) instead of failing in the database.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function hasUnstorableText(s: string): boolean {
  return UNSTORABLE.test(s);
}

/** The path to the first string (value or key) Postgres cannot store, or null. */
export function findUnstorable(value: unknown, path: (string | number)[] = []): (string | number)[] | null {
  if (typeof value === 'string') return hasUnstorableText(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], [...path, i]);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (hasUnstorableText(k)) return [...path, k];
      const found = findUnstorable(v, [...path, k]);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Whether arrays and objects in `value` nest more than `max` levels deep (`[]` is one level).
 * Iterative, so it answers for any depth; recursive walkers (ours, JSON.stringify, Postgres) do not.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length) {
    const [v, outer] = pending.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (outer + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) pending.push([child, outer + 1]);
  }
  return false;
}

/**
 * An RFC 3339 date-time of year 1970..9998 with an offset within ±14:00: Postgres and JavaScript
 * represent every such instant exactly, and in UTC it still has a four-digit year. A pattern (not a
 * range of instants), so that the OpenAPI document can state exactly what is accepted.
 */
export const SANE_INSTANT = /^(?:19[7-9]\d|[2-8]\d{3}|9[0-8]\d{2}|99[0-8]\d|999[0-8])-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:0\d|1[0-3]):[0-5]\d|[+-]14:00)$/;

export function isSaneInstant(value: string): boolean {
  return SANE_INSTANT.test(value) && Number.isFinite(Date.parse(value));
}
