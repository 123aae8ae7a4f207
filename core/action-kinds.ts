import { z } from 'zod';
import jsonata from 'jsonata';
import { toFieldIssues } from './validation';

/** Every action kind of the reference; only the ones in AVAILABLE have an executor today. */
export const ACTION_KINDS = [
  'dlt_extract', 'file_sync', 'duckdb_transform', 'http_request', 'call_agent', 'generate_query',
  'explain_schema', 'agent_search', 'agent_fetch_page', 'create_flashboard', 'approval_gate',
  'conditional_branch', 'call_automation', 'web_search', 'fetch_page',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** Fields any kind's definition may carry: an approval before it runs. */
const approvalFields = {
  requiresApproval: z.boolean().optional(),
  approvalTimeoutSeconds: z.int().min(1).max(30 * 86400).optional(),
  selfApprovalDisabled: z.boolean().optional(),
};

const retrySchema = z.strictObject({
  maxAttempts: z.int().min(1).max(10).default(1),
  initialIntervalSeconds: z.number().min(0).max(3600).default(1),
  backoffCoefficient: z.number().min(1).max(10).default(2),
});

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http or https URL' });

export const httpRequestDefinition = z.strictObject({
  url: httpUrl,
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']).default('GET'),
  headers: z.record(z.string(), z.string()).optional(),
  query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  body: z.unknown().optional(),
  timeoutSeconds: z.int().min(1).max(600).default(30),
  allowedStatuses: z.array(z.int().min(100).max(599)).optional(),
  retry: retrySchema.optional(),
  ...approvalFields,
});

export const fetchPageDefinition = z.strictObject({
  url: httpUrl,
  timeoutSeconds: z.int().min(1).max(600).default(30),
  ...approvalFields,
});

export const approvalGateDefinition = z.strictObject({
  title: z.string().max(500).optional(),
  description: z.string().max(10_000).optional(),
  timeoutSeconds: z.int().min(1).max(30 * 86400).optional(),
  selfApprovalDisabled: z.boolean().optional(),
  requiresApproval: z.boolean().optional(),
});

export const conditionalBranchDefinition = z.strictObject({
  expression: z.string().min(1).max(10_000).superRefine((expr, ctx) => {
    try {
      jsonata(expr);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `invalid expression: ${(err as Error).message}` });
    }
  }),
  input: z.unknown().optional(),
  ...approvalFields,
});

export const callAutomationDefinition = z.strictObject({
  automationId: z.uuid(),
  input: z.unknown().optional(),
  wait: z.boolean().default(true),
  ...approvalFields,
});

export const DEFINITION_SCHEMAS = {
  http_request: httpRequestDefinition,
  fetch_page: fetchPageDefinition,
  agent_fetch_page: fetchPageDefinition,
  approval_gate: approvalGateDefinition,
  conditional_branch: conditionalBranchDefinition,
  call_automation: callAutomationDefinition,
} as const;

export type AvailableKind = keyof typeof DEFINITION_SCHEMAS;
export const isAvailableKind = (kind: string): kind is AvailableKind => kind in DEFINITION_SCHEMAS;

export type HttpRequestDefinition = z.infer<typeof httpRequestDefinition>;
export type FetchPageDefinition = z.infer<typeof fetchPageDefinition>;
export type ConditionalBranchDefinition = z.infer<typeof conditionalBranchDefinition>;

/**
 * What the run workflow needs to know about a definition, computed once by the API so the
 * workflow bundle stays free of validation code.
 */
export interface ActionPlan {
  executor: string;
  gate: boolean;
  requiresApproval: boolean;
  approvalTimeoutSeconds: number | null;
  /** Executors with safe points can be paused while running; the others only while queued. */
  pausable: boolean;
  retry: { maxAttempts: number; initialIntervalSeconds: number; backoffCoefficient: number };
  attemptTimeoutSeconds: number;
}

export function planAction(kind: AvailableKind, definition: Record<string, unknown>): ActionPlan {
  const gate = kind === 'approval_gate';
  const retry = (definition.retry as ActionPlan['retry'] | undefined) ?? { maxAttempts: 1, initialIntervalSeconds: 1, backoffCoefficient: 2 };
  return {
    executor: kind === 'agent_fetch_page' ? 'fetch_page' : kind,
    gate,
    requiresApproval: gate || definition.requiresApproval === true,
    approvalTimeoutSeconds: ((gate ? definition.timeoutSeconds : definition.approvalTimeoutSeconds) as number | undefined) ?? null,
    pausable: false,
    retry,
    attemptTimeoutSeconds: (definition.timeoutSeconds as number | undefined) ?? 30,
  };
}

export interface DefinitionIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** Validates a definition against its kind; issue locations start at `kind` or `definition`. */
export function parseDefinition(kind: string, definition: unknown):
  { ok: true; value: Record<string, unknown> } | { ok: false; issues: DefinitionIssue[] } {
  if (!isAvailableKind(kind)) {
    return { ok: false, issues: [{ loc: ['kind'], msg: `action kind ${kind} is not available yet`, type: 'value_error' }] };
  }
  const res = DEFINITION_SCHEMAS[kind].safeParse(definition ?? {});
  if (res.success) return { ok: true, value: res.data as Record<string, unknown> };
  return { ok: false, issues: toFieldIssues(res.error, definition ?? {}).map((i) => ({ ...i, loc: ['definition', ...i.loc] })) };
}
