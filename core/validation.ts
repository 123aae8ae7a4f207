import type { z } from 'zod';

export interface FieldIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

const TYPE_BY_FORMAT: Record<string, string> = { uuid: 'uuid_parsing', url: 'url_parsing', datetime: 'datetime_parsing' };

/** Zod issues in FastAPI's shape (`loc`, `msg`, `type`), loc relative to the validated value. */
export function toFieldIssues(error: z.ZodError, input: unknown): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const loc: (string | number)[] = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code !== 'unrecognized_keys' && issue.code !== 'custom' && issue.path.length > 0 && valueAt(input, issue.path) === undefined) {
      out.push({ loc, msg: 'Field required', type: 'missing' });
      continue;
    }
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ loc: [...loc, key], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' });
        continue;
      case 'invalid_type':
        out.push({ loc, msg: issue.message, type: `${issue.expected}_type` });
        continue;
      case 'invalid_format':
        out.push({ loc, msg: issue.message, type: TYPE_BY_FORMAT[issue.format] ?? `${issue.format}_parsing` });
        continue;
      case 'invalid_value':
        out.push({ loc, msg: issue.message, type: 'enum' });
        continue;
      case 'too_small':
        out.push({ loc, msg: issue.message, type: issue.origin === 'string' ? 'string_too_short' : 'greater_than_equal' });
        continue;
      case 'too_big':
        out.push({ loc, msg: issue.message, type: issue.origin === 'string' ? 'string_too_long' : 'less_than_equal' });
        continue;
      default:
        out.push({ loc, msg: issue.message, type: issue.code === 'custom' ? 'value_error' : issue.code });
    }
  }
  return out;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let cur = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

