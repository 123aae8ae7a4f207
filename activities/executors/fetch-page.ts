import { ApplicationFailure } from '@temporalio/activity';
import type { FetchPageDefinition } from '../../core/action-kinds';
import { boundedFetch, readLimited } from './http-client';
import { htmlTitle, htmlToText } from './html-text';
import type { ExecutorContext } from '.';

const MAX_PAGE_BYTES = 5 * 1024 * 1024;

/** `fetch_page` / `agent_fetch_page`: GET a page, follow redirects, reduce HTML to readable text. */
export async function fetchPage(def: FetchPageDefinition, ctx: ExecutorContext): Promise<unknown> {
  await ctx.log({ event: 'fetch_page', message: `GET ${def.url}` });
  const res = await boundedFetch(ctx.http, def.url, { method: 'GET', redirect: 'follow', headers: { accept: 'text/html,*/*;q=0.8' } }, def.timeoutSeconds, ctx.signal);
  const { bytes } = await readLimited(res, MAX_PAGE_BYTES);
  const contentType = res.headers.get('content-type');
  if (res.status < 200 || res.status >= 300) {
    throw ApplicationFailure.create({
      type: 'http_status', message: `HTTP ${res.status} from ${new URL(res.url || def.url).host}`,
      nonRetryable: !(res.status === 429 || res.status >= 500), details: [{ status: res.status }],
    });
  }
  const raw = bytes.toString('utf8');
  const isHtml = /html|xml/i.test(contentType ?? '') || /^\s*<(!doctype|html)/i.test(raw);
  return {
    finalUrl: res.url || def.url,
    status: res.status,
    contentType,
    title: isHtml ? htmlTitle(raw) : null,
    text: isHtml ? htmlToText(raw) : raw,
  };
}
