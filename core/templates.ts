/**
 * `{{steps.<key>.result…}}` and `{{input…}}` references in step definitions. A string that is one
 * reference becomes the referenced value itself (object, number…); a reference inside a longer
 * string is interpolated (objects as JSON). Unknown references are errors, never silent blanks.
 */
const REF = /\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*)\s*\}\}$/;

export class TemplateError extends Error {}

export function lookup(context: unknown, path: string): unknown {
  let cur: unknown = context;
  for (const part of path.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as object))) throw new TemplateError(`unknown reference {{${path}}}`);
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function resolveTemplates(value: unknown, context: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) return lookup(context, whole[1]);
    return value.replace(REF, (_, path: string) => {
      const v = lookup(context, path);
      return typeof v === 'string' ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolveTemplates(v, context));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTemplates(v, context)]));
  }
  return value;
}

/** The step keys a definition refers to, to check them against dependsOn at save time. */
export function referencedSteps(value: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === 'string') for (const m of v.matchAll(REF)) { const p = m[1].split('.'); if (p[0] === 'steps' && p[1]) out.add(p[1]); }
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return [...out];
}
