import { TemplateError, referencedSteps, resolveTemplates } from '../../core/templates';

const ctx = { steps: { a: { result: { body: { id: 7, tags: ['x', 'y'] } } } }, input: { name: 'n' } };

describe('step templates', () => {
  it('replaces a whole-string reference with the value itself', () => {
    expect(resolveTemplates({ v: '{{ steps.a.result.body }}' }, ctx)).toEqual({ v: { id: 7, tags: ['x', 'y'] } });
    expect(resolveTemplates('{{steps.a.result.body.tags[1]}}', ctx)).toBe('y');
  });
  it('interpolates references inside strings', () => {
    expect(resolveTemplates({ url: 'https://x/{{steps.a.result.body.id}}?n={{input.name}}' }, ctx)).toEqual({ url: 'https://x/7?n=n' });
  });
  it('fails on an unknown reference', () => {
    expect(() => resolveTemplates('{{steps.b.result}}', ctx)).toThrow(TemplateError);
  });
  it('lists referenced steps', () => {
    expect(referencedSteps({ a: ['{{steps.x.result}}', 'and {{ steps.y.result.z }}'], b: '{{input.q}}' })).toEqual(['x', 'y']);
  });
});
