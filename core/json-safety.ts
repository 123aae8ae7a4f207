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

const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59);

/** An ISO-8601 instant within what Postgres and JavaScript both represent exactly (1970..9999, offset ±14:00). */
export function isSaneInstant(value: string): boolean {
  const offset = /([+-])(\d{2}):?(\d{2})$/.exec(value);
  if (offset && (Number(offset[2]) > 14 || Number(offset[3]) > 59 || (Number(offset[2]) === 14 && Number(offset[3]) > 0))) return false;
  const t = Date.parse(value);
  return Number.isFinite(t) && t >= MIN_TIME && t <= MAX_TIME;
}
