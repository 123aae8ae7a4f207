import { z } from 'zod';
import { newId } from '../../core/ids';
import type { ApiDeps } from '../deps';
import { HttpError, conflict, notFound } from '../errors';
import { route, type RouteDef } from '../route';
import { JobRunService, type TriggerBody } from '../services/job-runs';
import type { JobFields } from '../../db/job-store';
import { JobSchema, instant, iso, listQuery, page, toJob } from './job-shapes';

const tags = ['Jobs'];
const BULK_LANES = 8;
const JobIdParams = z.object({ jobID: z.uuid() });
const stringMap = z.record(z.string(), z.string());

/** Job fields without defaults (a PATCH changes only what it names); creation adds the defaults. */
const JobFields = {
  name: z.string().min(1).max(255),
  slug: z.string().min(1).max(100).regex(/^[a-z0-9][a-z0-9-_]*$/, 'lowercase letters, digits, - and _'),
  description: z.string().max(10_000).nullable(),
  endpoint_url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
  max_attempts: z.int().min(1).max(100),
  timeout_secs: z.int().min(1).max(86_400),
  retry_strategy: z.enum(['exponential', 'linear', 'fixed']),
  retry_initial_delay_secs: z.number().min(0).max(86_400),
  retry_max_delay_secs: z.number().min(0).max(86_400),
  max_concurrency: z.int().min(1).max(10_000).nullable(),
  tags: stringMap,
  payload_schema: z.record(z.string(), z.unknown()).nullable(),
};
const CreateJob = z.object({
  ...JobFields,
  description: JobFields.description.optional(),
  max_attempts: JobFields.max_attempts.default(3),
  timeout_secs: JobFields.timeout_secs.default(300),
  retry_strategy: JobFields.retry_strategy.default('exponential'),
  retry_initial_delay_secs: JobFields.retry_initial_delay_secs.default(1),
  retry_max_delay_secs: JobFields.retry_max_delay_secs.default(3600),
  max_concurrency: JobFields.max_concurrency.optional(),
  tags: JobFields.tags.optional(),
  payload_schema: JobFields.payload_schema.optional(),
});
const PatchJob = z.object(JobFields).partial();

const TriggerSchema = z.object({
  payload: z.unknown().optional(),
  tags: stringMap.optional(),
  metadata: stringMap.optional(),
  scheduled_at: instant().nullable().optional(),
  priority: z.int().min(0).max(10).default(0),
  ttl_secs: z.int().min(1).max(30 * 86_400).nullable().optional(),
  concurrency_key: z.string().min(1).max(255).nullable().optional(),
});
const TriggerResponse = z.object({ id: z.uuid(), status: z.string(), idempotency_hit: z.boolean() });
const Dependency = z.object({ job_id: z.uuid(), depends_on_job_id: z.uuid(), condition: z.enum(['completed', 'failed', 'any']), created_at: z.string() });

const fields = (b: z.infer<typeof PatchJob>) => ({
  name: b.name, slug: b.slug, description: b.description, endpointUrl: b.endpoint_url, maxAttempts: b.max_attempts,
  timeoutSecs: b.timeout_secs, retryStrategy: b.retry_strategy, retryInitialDelaySecs: b.retry_initial_delay_secs,
  retryMaxDelaySecs: b.retry_max_delay_secs, maxConcurrency: b.max_concurrency, tags: b.tags, payloadSchema: b.payload_schema,
});

const uniqueSlug = (err: unknown) => {
  if ((err as { code?: string }).code === '23505') throw conflict('a job with this slug already exists in the project');
  throw err;
};

export function jobRoutes(deps: ApiDeps, svc = new JobRunService(deps)): RouteDef[] {
  return [
    route({
      method: 'post', path: '/v1/jobs', operationId: 'createJob', summary: 'Create a job', tags, creates: '/v1/jobs/{jobID}',
      description: 'A job is an HTTP endpoint that runs are dispatched to, with its retry, timeout and concurrency policy.',
      body: CreateJob.meta({ examples: [{ name: 'Send report', slug: 'send-report', endpoint_url: 'https://example.com/jobs/send-report' }] }),
      responses: { 201: { description: 'Created', schema: JobSchema }, 409: { description: 'Slug taken' } },
      handler: async ({ auth, body }) => {
        if (body.payload_schema) svc.compile(body.payload_schema, 'payload_schema');
        const job = await svc.jobs.createJob(auth, {
          ...fields(body), description: body.description ?? null, maxConcurrency: body.max_concurrency ?? null,
          tags: body.tags ?? {}, payloadSchema: body.payload_schema ?? null,
        } as JobFields).catch(uniqueSlug);
        return { status: 201, body: toJob(job) };
      },
    }),
    route({
      method: 'get', path: '/v1/jobs', operationId: 'listJobs', summary: 'List jobs', tags,
      query: z.object({ project_id: z.string().optional(), ...listQuery }),
      responses: { 200: { description: 'Jobs, newest first', schema: z.array(JobSchema) } },
      handler: async ({ auth, query, ctx }) => {
        const project = svc.project(auth, query.project_id);
        return page(new URL(ctx.href), await svc.jobs.listJobs(project, query.limit + 1, query.cursor), query.limit, toJob);
      },
    }),
    route({
      method: 'get', path: '/v1/jobs/{jobID}', operationId: 'getJob', summary: 'Get a job', tags, params: JobIdParams,
      responses: { 200: { description: 'The job', schema: JobSchema } },
      handler: async ({ auth, params }) => ({ body: toJob(await svc.job(auth, params.jobID)) }),
    }),
    route({
      method: 'patch', path: '/v1/jobs/{jobID}', operationId: 'updateJob', summary: 'Update a job', tags, params: JobIdParams, body: PatchJob,
      description: 'Changes apply to runs triggered afterwards; the job version increases.',
      responses: { 200: { description: 'The job', schema: JobSchema } },
      handler: async ({ auth, params, body }) => {
        await svc.job(auth, params.jobID);
        if (body.payload_schema) svc.compile(body.payload_schema, 'payload_schema');
        const f = Object.fromEntries(Object.entries(fields(body)).filter(([, v]) => v !== undefined));
        return { body: toJob(await svc.jobs.updateJob(params.jobID, f).catch(uniqueSlug)) };
      },
    }),
    route({
      method: 'delete', path: '/v1/jobs/{jobID}', operationId: 'deleteJob', summary: 'Delete a job', tags, params: JobIdParams,
      description: 'Deletes the job; its runs stay.',
      responses: { 204: { description: 'Deleted', schema: null } },
      handler: async ({ auth, params }) => {
        await svc.job(auth, params.jobID);
        await svc.jobs.deleteJob(params.jobID);
        return { status: 204 };
      },
    }),
    route({
      method: 'post', path: '/v1/jobs/{jobID}/dependencies', operationId: 'addJobDependency', summary: 'Add a job dependency', tags,
      description: 'Runs of this job wait (`waiting`) until the latest run of `depends_on_job_id` meets `condition`.',
      params: JobIdParams, body: z.object({ depends_on_job_id: z.uuid(), condition: z.enum(['completed', 'failed', 'any']).default('completed') }),
      responses: { 201: { description: 'Added', schema: Dependency } },
      handler: async ({ auth, params, body }) => {
        await svc.job(auth, params.jobID);
        await svc.job(auth, body.depends_on_job_id).catch(() => { throw new HttpError(422, 'depends_on_job_id: no such job'); });
        if (await svc.jobs.wouldCycle(params.jobID, body.depends_on_job_id)) throw new HttpError(422, 'depends_on_job_id: the dependency would form a cycle');
        const d = await svc.jobs.addDependency(params.jobID, body.depends_on_job_id, body.condition);
        return { status: 201, body: { job_id: d.jobId, depends_on_job_id: d.dependsOnJobId, condition: d.condition, created_at: iso(d.createdAt)! } };
      },
    }),
    route({
      method: 'get', path: '/v1/jobs/{jobID}/dependencies', operationId: 'listJobDependencies', summary: 'List job dependencies', tags,
      params: JobIdParams, responses: { 200: { description: 'Dependencies', schema: z.array(Dependency) } },
      handler: async ({ auth, params }) => {
        await svc.job(auth, params.jobID);
        const list = await svc.jobs.dependencies(params.jobID);
        return { body: list.map((d) => ({ job_id: d.jobId, depends_on_job_id: d.dependsOnJobId, condition: d.condition, created_at: iso(d.createdAt)! })) };
      },
    }),
    route({
      method: 'delete', path: '/v1/jobs/{jobID}/dependencies/{dependsOnJobID}', operationId: 'removeJobDependency', summary: 'Remove a job dependency', tags,
      params: z.object({ jobID: z.uuid(), dependsOnJobID: z.uuid() }), responses: { 204: { description: 'Removed', schema: null } },
      handler: async ({ auth, params }) => {
        await svc.job(auth, params.jobID);
        if (!(await svc.jobs.removeDependency(params.jobID, params.dependsOnJobID))) throw notFound('dependency');
        return { status: 204 };
      },
    }),
    route({
      method: 'post', path: '/v1/jobs/{jobID}/trigger', operationId: 'triggerJob', summary: 'Trigger a run', tags, creates: '/v1/runs/{runID}',
      description: 'Creates a run: `delayed` with a future scheduled_at, `waiting` with unmet dependencies, else `queued`. With an `Idempotency-Key` header already used by an active run or one finished within 24 h, answers 200 with that run and `idempotency_hit: true`.',
      params: JobIdParams, body: TriggerSchema.meta({ examples: [{ payload: { report_id: 42 }, tags: { source: 'docs' }, priority: 5 }] }),
      responses: { 201: { description: 'Created', schema: TriggerResponse }, 200: { description: 'Idempotency hit', schema: TriggerResponse } },
      handler: async ({ auth, params, body, ctx }) => {
        const job = await svc.job(auth, params.jobID);
        const key = ctx.get('idempotency-key') || null;
        if (key && key.length > 255) throw new HttpError(422, 'Idempotency-Key: at most 255 characters');
        const { run, hit } = await svc.trigger(auth, job, body as TriggerBody, { idempotencyKey: key, triggeredBy: 'manual' });
        return { status: hit ? 200 : 201, body: { id: run.id, status: run.status, idempotency_hit: hit } };
      },
    }),
    route({
      method: 'post', path: '/v1/jobs/{jobID}/trigger/bulk', operationId: 'triggerJobBulk', summary: 'Trigger runs in bulk', tags,
      description: 'Up to 500 runs sharing one `batch_id`.',
      params: JobIdParams, body: z.object({ items: z.array(TriggerSchema).min(1).max(500) }),
      responses: { 201: { description: 'Created', schema: z.object({ batch_id: z.uuid(), count: z.int(), runs: z.array(z.object({ id: z.uuid(), status: z.string() })) }) } },
      handler: async ({ auth, params, body }) => {
        const job = await svc.job(auth, params.jobID);
        const batchId = newId();
        // A few triggers at a time, each with the Temporal deadline a single trigger has: one
        // request-wide deadline would run out on 500 items on a busy machine.
        const deadline = () => Date.now() + deps.config.temporalRequestTimeoutMs;
        const runs: { id: string; status: string }[] = new Array(body.items.length);
        let next = 0;
        const lane = async () => {
          for (let i = next++; i < body.items.length; i = next++) {
            const { run } = await deps.temporal.connection.withDeadline(deadline(), () => svc.trigger(auth, job, body.items[i] as TriggerBody, { batchId, triggeredBy: 'manual' }));
            runs[i] = { id: run.id, status: run.status };
          }
        };
        await Promise.all(Array.from({ length: Math.min(BULK_LANES, body.items.length) }, lane));
        return { status: 201, body: { batch_id: batchId, count: runs.length, runs } };
      },
    }),
  ];
}
