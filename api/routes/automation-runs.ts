import { z } from 'zod';
import { iso, seconds } from '../format';
import { AUTOMATION_STATUSES } from '../../core/run-status';
import type { RunStepRow } from '../../db/automation-store';
import type { RunEventRow, RunRow } from '../../db/entities';
import type { ApiDeps } from '../deps';
import { route, type RouteDef } from '../route';
import { AutomationService } from '../services/automations';
import { streamRunEvents } from '../sse';

const tags = ['Automation runs'];
export const RESULT_LIMIT_BYTES = 16 * 1024;

export const AutomationRunSchema = z.object({
  automationId: z.uuid().nullable(), automationVersionId: z.uuid().nullable(), completedAt: z.iso.datetime().nullable(),
  concurrencyKey: z.string().nullable(), createdAt: z.iso.datetime(), durationSeconds: z.number().nullable(),
  error: z.record(z.string(), z.unknown()).nullable(), externalJobId: z.string().nullable(), id: z.uuid(),
  orchestratorType: z.string(), startedAt: z.iso.datetime().nullable(), status: z.enum(AUTOMATION_STATUSES),
  tenantId: z.string(), triggerSourceId: z.string().nullable(), triggerSourceType: z.string(), triggerType: z.string(),
  updatedAt: z.iso.datetime(), versionNumber: z.int().nullable(),
});

export function toAutomationRun(run: RunRow) {
  return {
    automationId: run.targetId, automationVersionId: run.targetVersionId, completedAt: iso(run.completedAt),
    concurrencyKey: run.concurrencyKey, createdAt: iso(run.createdAt)!, durationSeconds: seconds(run.startedAt, run.completedAt),
    error: (run.error as Record<string, unknown>) ?? null, externalJobId: run.id, id: run.id, orchestratorType: 'temporal',
    startedAt: iso(run.startedAt), status: run.status, tenantId: run.organizationId, triggerSourceId: run.triggerSourceId,
    triggerSourceType: run.triggerSourceType, triggerType: run.triggerType ?? run.triggerMethod, updatedAt: iso(run.updatedAt)!,
    versionNumber: run.targetVersion,
  };
}

const StepSchema = z.object({
  actionRunId: z.uuid().nullable(), completedAt: z.iso.datetime().nullable(), decisionId: z.uuid().nullable(), dependsOn: z.array(z.string()),
  durationSeconds: z.number().nullable(), error: z.record(z.string(), z.unknown()).nullable(), key: z.string(), name: z.string(),
  result: z.unknown().nullable(), resultTruncated: z.boolean(), startedAt: z.iso.datetime().nullable(), status: z.string(),
});
const StepsResponse = z.object({
  automationRunId: z.uuid(), completedCount: z.int(), failedCount: z.int(), pendingCount: z.int(), runningCount: z.int(), steps: z.array(StepSchema),
});

function toStep(s: RunStepRow) {
  const size = s.result === null || s.result === undefined ? 0 : Buffer.byteLength(JSON.stringify(s.result));
  const truncated = size > RESULT_LIMIT_BYTES;
  return {
    actionRunId: s.actionRunId, completedAt: iso(s.completedAt), decisionId: s.decisionId, dependsOn: s.dependsOn,
    durationSeconds: seconds(s.startedAt, s.completedAt), error: (s.error as Record<string, unknown>) ?? null, key: s.key, name: s.name,
    result: truncated ? null : (s.result ?? null), resultTruncated: truncated, startedAt: iso(s.startedAt), status: s.status,
  };
}

/** Event names of the run's stream: its status changes and its steps' lifecycle. */
const eventName = (e: RunEventRow) => (e.type === 'status' ? 'run.status' : e.type);

const RunIdParams = z.object({ run_id: z.uuid() });
const one = { 200: { description: 'The run', schema: AutomationRunSchema } };

export function automationRunRoutes(deps: ApiDeps, svc = new AutomationService(deps)): RouteDef[] {
  return [
    route({
      method: 'get', path: '/api/v1/automation-runs', operationId: 'listAutomationRuns', summary: 'List All Runs', tags,
      query: z.strictObject({
        status: z.enum(AUTOMATION_STATUSES).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        offset: z.coerce.number().int().min(0).default(0),
      }),
      responses: { 200: { description: 'Runs, newest first', schema: z.object({ items: z.array(AutomationRunSchema), total: z.int() }) } },
      handler: async ({ auth, query }) => {
        const { items, total } = await svc.listRuns(auth, query);
        return { body: { items: items.map(toAutomationRun), total } };
      },
    }),
    route({
      method: 'get', path: '/api/v1/automation-runs/{run_id}', operationId: 'getAutomationRun', summary: 'Get Run', tags,
      params: RunIdParams, responses: one,
      handler: async ({ auth, params }) => ({ body: toAutomationRun(await svc.getRun(auth, params.run_id)) }),
    }),
    route({
      method: 'post', path: '/api/v1/automation-runs/{run_id}/cancel', operationId: 'cancelAutomationRun', summary: 'Cancel Run', tags,
      description: 'Cancels the run; running steps and their child runs are cancelled too.',
      params: RunIdParams, responses: { ...one, 409: { description: 'The run is already finished' } },
      handler: async ({ auth, params }) => ({ body: toAutomationRun(await svc.cancel(auth, params.run_id)) }),
    }),
    route({
      method: 'get', path: '/api/v1/automation-runs/{run_id}/events', operationId: 'streamAutomationRunEvents', summary: 'Stream Run Events', tags,
      description: 'Server-Sent Events: `run.status`, `step.started`, `step.completed`, `step.failed`, `step.skipped`, `step.cancelled`; history first, then live; closes after the terminal run status. Resume with Last-Event-ID or `after`.',
      params: RunIdParams, query: z.strictObject({ after: z.string().regex(/^\d{1,18}$/).optional() }),
      responses: { 200: { description: 'An event stream', sse: true } },
      handler: async ({ auth, params, query, ctx }) => {
        await svc.getRun(auth, params.run_id);
        streamRunEvents(ctx, deps, { id: params.run_id, kind: 'automation' }, {
          after: query.after,
          event: eventName,
          data: (e) => ({ id: String(e.id), type: eventName(e), runId: e.runId, occurredAt: iso(e.createdAt), ...(e.data as object) }),
        });
      },
    }),
    route({
      method: 'post', path: '/api/v1/automation-runs/{run_id}/retry', operationId: 'retryAutomationRun', summary: 'Retry Run', tags,
      description: 'Retries in place (same id): `from_failed` (default) re-runs failed, cancelled and never-reached steps and their downstream; `from_step` re-runs `stepKey` and its downstream; `full` re-runs every step on the pinned version. With `?dryRun=true` nothing changes and the plan is returned.',
      params: RunIdParams,
      query: z.strictObject({ dryRun: z.enum(['true', 'false']).optional() }),
      body: z.strictObject({ mode: z.enum(['from_failed', 'from_step', 'full']).default('from_failed'), stepKey: z.string().nullable().optional() })
        // `stepKey` comes with `from_step` and only with it (the service checks; the document says so).
        .meta({
          anyOf: [
            { required: ['mode', 'stepKey'], properties: { mode: { const: 'from_step' }, stepKey: { type: 'string', minLength: 1 } } },
            { properties: { mode: { enum: ['from_failed', 'full'] }, stepKey: { type: 'null' } } },
          ],
        }),
      responses: {
        200: {
          description: 'The run, back to pending (or with dryRun, the plan)',
          schema: z.union([AutomationRunSchema, z.object({ dryRun: z.literal(true), mode: z.string(), stepKey: z.string().nullable(), rerunSteps: z.array(z.string()), reusedSteps: z.array(z.string()), run: AutomationRunSchema })]),
        },
        409: { description: 'The run is still pending, running or waiting, or an upstream step is not completed' },
      },
      handler: async ({ auth, params, query, body }) => {
        const dryRun = query.dryRun === 'true';
        const { run, plan } = await svc.retry(auth, params.run_id, body.mode, body.stepKey ?? undefined, dryRun);
        if (dryRun) {
          return { body: { dryRun: true, mode: body.mode, stepKey: body.stepKey ?? null, rerunSteps: plan.rerun, reusedSteps: plan.reuse, run: toAutomationRun(run) } };
        }
        return { body: toAutomationRun(run) };
      },
    }),
    route({
      method: 'get', path: '/api/v1/automation-runs/{run_id}/steps', operationId: 'getAutomationRunSteps', summary: 'Get Run Steps', tags,
      description: '`pendingCount` includes waiting steps; skipped and cancelled steps are in none of the counters. A result over 16 KiB is left out (`resultTruncated`); the full result is on the action run.',
      params: RunIdParams, responses: { 200: { description: 'The steps in definition order', schema: StepsResponse } },
      handler: async ({ auth, params }) => {
        await svc.getRun(auth, params.run_id);
        const steps = (await svc.steps(params.run_id)).map(toStep);
        const count = (...st: string[]) => steps.filter((s) => st.includes(s.status)).length;
        return {
          body: {
            automationRunId: params.run_id, completedCount: count('completed'), failedCount: count('failed'),
            pendingCount: count('pending', 'waiting'), runningCount: count('running'), steps,
          },
        };
      },
    }),
  ];
}
