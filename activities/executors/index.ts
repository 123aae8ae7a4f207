import { ApplicationFailure } from '@temporalio/activity';
import type { LogInput } from '../../db/run-store';
import { httpRequest } from './http-request';
import { fetchPage } from './fetch-page';
import { conditionalBranch } from './conditional-branch';

/** The network client executors use; tests may pass another fetch. */
export interface Http {
  fetch: typeof fetch;
}

export interface ExecutorContext {
  http: Http;
  signal: AbortSignal;
  log: (l: Omit<LogInput, 'attempt' | 'workerId'>) => Promise<void>;
}

type Executor = (definition: any, ctx: ExecutorContext) => Promise<unknown>;

const EXECUTORS: Record<string, Executor> = {
  http_request: httpRequest,
  fetch_page: fetchPage,
  conditional_branch: conditionalBranch,
};

export async function runExecutor(name: string, definition: Record<string, unknown>, ctx: ExecutorContext): Promise<unknown> {
  const executor = EXECUTORS[name];
  if (!executor) throw ApplicationFailure.nonRetryable(`no executor for ${name}`, 'unsupported_kind');
  return executor(definition, ctx);
}
