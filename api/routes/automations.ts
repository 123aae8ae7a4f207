import { z } from 'zod';
import { iso } from '../format';
import { ACTION_KINDS } from '../../core/action-kinds';
import type { AutomationRow, AutomationVersionRow } from '../../db/automation-store';
import type { ApiDeps } from '../deps';
import { route, type RouteDef } from '../route';
import { AutomationService } from '../services/automations';
import { AutomationRunSchema, toAutomationRun } from './automation-runs';

const tags = ['Automations'];

const StepInput = z.strictObject({
  key: z.string().min(1).max(100).regex(/^[A-Za-z_][\w-]*$/, 'letters, digits, _ and -, starting with a letter or _'),
  name: z.string().min(1).max(255).optional(),
  kind: z.string().min(1).max(100).describe(`An action kind: ${ACTION_KINDS.join(', ')}`),
  definition: z.record(z.string(), z.unknown()).nullable().optional()
    .describe('The kind\'s definition; strings may reference {{steps.<key>.result…}} and {{input…}}'),
  dependsOn: z.array(z.string()).max(100).optional(),
});
const ScheduleInput = z.strictObject({
  cron: z.string().min(9).max(200).describe('Five-field cron expression, e.g. "0 6 * * 1-5"'),
  timezone: z.string().max(100).optional().describe('IANA time zone, default UTC'),
});
const CreateBody = z.strictObject({
  name: z.string().min(1).max(255),
  description: z.string().max(10_000).nullable().optional(),
  concurrencyKey: z.string().min(1).max(255).nullable().optional(),
  steps: z.array(StepInput).min(1).max(200),
  schedule: ScheduleInput.nullable().optional(),
  paused: z.boolean().optional(),
}).meta({
  examples: [{
    name: 'Quarterly report',
    steps: [
      { key: 'approve', kind: 'approval_gate', definition: { title: 'Publish the quarterly report?' } },
      { key: 'publish', kind: 'http_request', definition: { url: 'https://example.com/reports/publish', method: 'POST' }, dependsOn: ['approve'] },
    ],
  }],
});
const PatchBody = z.strictObject({
  name: z.string().min(1).max(255).optional(),
  description: z.string().max(10_000).nullable().optional(),
  concurrencyKey: z.string().min(1).max(255).nullable().optional(),
  steps: z.array(StepInput).min(1).max(200).optional(),
  schedule: ScheduleInput.nullable().optional(),
  paused: z.boolean().optional(),
});

const Step = z.object({ key: z.string(), name: z.string(), kind: z.string(), definition: z.record(z.string(), z.unknown()), dependsOn: z.array(z.string()) });
const AutomationSchema = z.object({
  id: z.uuid(), name: z.string(), description: z.string().nullable(), concurrencyKey: z.string().nullable(),
  steps: z.array(Step), schedule: z.object({ cron: z.string(), timezone: z.string() }).nullable(), paused: z.boolean(),
  currentVersionId: z.uuid(), versionNumber: z.int(), createdAt: z.iso.datetime(), updatedAt: z.iso.datetime(),
});
const VersionSchema = z.object({
  id: z.uuid(), automationId: z.uuid(), versionNumber: z.int(), createdAt: z.iso.datetime(),
  definition: z.object({ name: z.string(), description: z.string().nullable(), concurrencyKey: z.string().nullable(), steps: z.array(Step), schedule: z.unknown().nullable() }),
});

function toAutomation(a: AutomationRow, v: AutomationVersionRow) {
  return {
    id: a.id, name: a.name, description: a.description, concurrencyKey: v.definition.concurrencyKey, steps: v.definition.steps,
    schedule: v.definition.schedule, paused: a.paused, currentVersionId: a.currentVersionId, versionNumber: v.versionNumber,
    createdAt: iso(a.createdAt)!, updatedAt: iso(a.updatedAt)!,
  };
}
const toVersion = (v: AutomationVersionRow) => ({ id: v.id, automationId: v.automationId, versionNumber: v.versionNumber, createdAt: iso(v.createdAt)!, definition: v.definition });

const IdParams = z.object({ automation_id: z.uuid() });

export function automationRoutes(deps: ApiDeps, svc = new AutomationService(deps)): RouteDef[] {
  const current = async (a: AutomationRow) => toAutomation(a, (await svc.automations.version(a.currentVersionId))!);
  return [
    route({
      method: 'post', path: '/api/v1/automations', operationId: 'createAutomation', summary: 'Create Automation', tags, creates: '/api/v1/automations/{automation_id}',
      description: 'Saves version 1 of a DAG of steps. Validation names the step: unknown kind, invalid definition, duplicate key, unknown dependency, cycle. A schedule becomes a Temporal Schedule.',
      body: CreateBody,
      responses: { 201: { description: 'Created', schema: AutomationSchema } },
      handler: async ({ auth, body }) => {
        const { automation, version } = await svc.create(auth, body);
        return { status: 201, body: toAutomation(automation, version) };
      },
    }),
    route({
      method: 'get', path: '/api/v1/automations', operationId: 'listAutomations', summary: 'List Automations', tags,
      query: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(50), offset: z.coerce.number().int().min(0).default(0) }),
      responses: { 200: { description: 'Automations, newest first', schema: z.object({ items: z.array(AutomationSchema), total: z.int() }) } },
      handler: async ({ auth, query }) => {
        const { items, total } = await svc.automations.list(auth.organizationId, query.limit, query.offset);
        return { body: { items: await Promise.all(items.map(current)), total } };
      },
    }),
    route({
      method: 'get', path: '/api/v1/automations/{automation_id}', operationId: 'getAutomation', summary: 'Get Automation', tags,
      params: IdParams, responses: { 200: { description: 'The automation at its current version', schema: AutomationSchema } },
      handler: async ({ auth, params }) => ({ body: await current(await svc.get(auth, params.automation_id)) }),
    }),
    route({
      method: 'patch', path: '/api/v1/automations/{automation_id}', operationId: 'updateAutomation', summary: 'Update Automation', tags,
      description: 'Saves a new immutable version from the current one with the given fields replaced. `paused` alone pauses or resumes the schedule without a new version.',
      params: IdParams, body: PatchBody, responses: { 200: { description: 'The automation at its new version', schema: AutomationSchema } },
      handler: async ({ auth, params, body }) => {
        const { automation, version } = await svc.update(auth, params.automation_id, body);
        return { body: toAutomation(automation, version) };
      },
    }),
    route({
      method: 'delete', path: '/api/v1/automations/{automation_id}', operationId: 'deleteAutomation', summary: 'Delete Automation', tags,
      description: 'Deletes the automation, its versions and its schedule; its runs stay.',
      params: IdParams, responses: { 204: { description: 'Deleted', schema: null } },
      handler: async ({ auth, params }) => {
        await svc.delete(auth, params.automation_id);
        return { status: 204 };
      },
    }),
    route({
      method: 'get', path: '/api/v1/automations/{automation_id}/versions', operationId: 'listAutomationVersions', summary: 'List Versions', tags,
      params: IdParams, responses: { 200: { description: 'Versions, newest first', schema: z.object({ items: z.array(VersionSchema), total: z.int() }) } },
      handler: async ({ auth, params }) => {
        await svc.get(auth, params.automation_id);
        const items = await svc.automations.versions(params.automation_id);
        return { body: { items: items.map(toVersion), total: items.length } };
      },
    }),
    route({
      method: 'post', path: '/api/v1/automations/{automation_id}/runs', operationId: 'startAutomationRun', summary: 'Start Run', tags, creates: '/api/v1/automation-runs/{run_id}',
      description: 'Starts a run of the current version (triggerType `api`, or `manual` from a browser session).',
      params: IdParams, body: z.strictObject({ input: z.unknown().optional() }),
      responses: { 201: { description: 'The run, pending', schema: AutomationRunSchema } },
      handler: async ({ auth, params, body }) => ({ status: 201, body: toAutomationRun(await svc.startRun(auth, params.automation_id, body.input ?? null)) }),
    }),
  ];
}
