import { DEFINITION_SCHEMAS, planAction } from '../../core/action-kinds';
import { truthy } from '../../activities/executors/conditional-branch';
import { htmlTitle, htmlToText } from '../../activities/executors/html-text';

describe('definitions', () => {
  it('fills http_request defaults', () => {
    expect(DEFINITION_SCHEMAS.http_request.parse({ url: 'https://example.com' })).toEqual({ url: 'https://example.com', method: 'GET', timeoutSeconds: 30 });
  });

  it('rejects unknown fields, bad ranges and non-http URLs', () => {
    const res = DEFINITION_SCHEMAS.http_request.safeParse({ url: 'ftp://x', timeoutSeconds: 0, nope: 1 });
    expect(res.success).toBe(false);
    expect(res.error!.issues.map((i) => i.path.join('.') || (i as any).keys?.join(','))).toEqual(expect.arrayContaining(['url', 'timeoutSeconds', 'nope']));
  });

  it('plans approval for gates and for requiresApproval, with the right timeout field', () => {
    expect(planAction('approval_gate', { timeoutSeconds: 5 })).toMatchObject({ gate: true, requiresApproval: true, approvalTimeoutSeconds: 5 });
    expect(planAction('http_request', { url: 'x', timeoutSeconds: 5, requiresApproval: true })).toMatchObject({ gate: false, requiresApproval: true, approvalTimeoutSeconds: null, attemptTimeoutSeconds: 5 });
    expect(planAction('agent_fetch_page', { url: 'x' }).executor).toBe('fetch_page');
  });
});

describe('conditional branch truthiness', () => {
  it.each([[true, true], [0, false], [1, true], ['', false], ['x', true], [[], false], [[0], true], [{}, false], [null, false], [undefined, false]])(
    '%j is %j', (value, expected) => expect(truthy(value)).toBe(expected),
  );
});

describe('HTML to text', () => {
  it('drops scripts and styles, keeps blocks as lines and decodes entities', () => {
    const html = '<html><head><title> A &amp; B </title><style>p{}</style></head><body><script>evil()</script><h1>Head</h1><p>One&nbsp;two &#233;</p><ul><li>x</li><li>y</li></ul></body></html>';
    expect(htmlTitle(html)).toBe('A & B');
    expect(htmlToText(html)).toBe('Head\nOne two é\n- x\n- y');
  });
});
