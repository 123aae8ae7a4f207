import jsonata from 'jsonata';
import { ApplicationFailure } from '@temporalio/activity';
import type { ConditionalBranchDefinition } from '../../core/action-kinds';
import type { ExecutorContext } from '.';

/** JSON values are truthy the usual way, except an empty array or object is false. */
export function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

/** `conditional_branch`: a JSONata expression over `input` (sandboxed, no eval) → {value, branch}. */
export async function conditionalBranch(def: ConditionalBranchDefinition, ctx: ExecutorContext): Promise<unknown> {
  let value: unknown;
  try {
    value = await jsonata(def.expression).evaluate(def.input ?? {});
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`expression failed: ${(err as Error).message}`, 'expression_error');
  }
  const branch = truthy(value) ? 'true' : 'false';
  await ctx.log({ event: 'decision', message: `expression evaluated to ${branch}`, data: { value: value ?? null, branch } });
  return { value: value ?? null, branch };
}
