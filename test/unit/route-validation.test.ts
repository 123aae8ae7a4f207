import { z } from 'zod';
import { ValidationError } from '../../api/errors';
import { parsePart } from '../../api/route';

const body = z.strictObject({ kind: z.enum(['a', 'b']), n: z.int().min(1).max(5).optional(), id: z.uuid().optional() });

function issues(input: unknown) {
  try {
    parsePart(body, 'body', input);
  } catch (err) {
    return (err as ValidationError).issues;
  }
  return [];
}

describe('validation errors in FastAPI shape', () => {
  it('reports a missing field as missing at its loc', () => {
    expect(issues({})).toEqual([{ loc: ['body', 'kind'], msg: 'Field required', type: 'missing' }]);
  });
  it('reports unknown fields as extra_forbidden', () => {
    expect(issues({ kind: 'a', x: 1 })).toEqual([{ loc: ['body', 'x'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' }]);
  });
  it('reports ranges, enums and formats with their types', () => {
    const types = Object.fromEntries(issues({ kind: 'c', n: 9, id: 'nope' }).map((i) => [i.loc.join('.'), i.type]));
    expect(types).toEqual({ 'body.kind': 'enum', 'body.n': 'less_than_equal', 'body.id': 'uuid_parsing' });
  });
});
