import { EntitySchema } from '@mikro-orm/core';

/**
 * Tenancy and runs. Schema changes go through migrations (db/migrations), never schema:update.
 * Run rows are read and written with set-based SQL in db/run-store.ts; these schemas give the ORM
 * the same picture for tenancy CRUD and migration checks.
 */
export interface Organization { id: string; name: string; createdAt: Date }
export interface Project { id: string; organizationId: string; name: string; slug: string; taskQueue: string | null; createdAt: Date }
export interface User {
  id: string; organizationId: string; email: string; firstName: string | null; lastName: string | null;
  profilePictureUrl: string | null; role: string; createdAt: Date;
}
export interface ApiKey {
  id: string; organizationId: string; projectId: string; userId: string; name: string; prefix: string;
  keyHash: string; scopes: string[]; createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null;
}

export const OrganizationSchema = new EntitySchema<Organization>({
  name: 'Organization',
  tableName: 'organizations',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});

export const ProjectSchema = new EntitySchema<Project>({
  name: 'Project',
  tableName: 'projects',
  properties: {
    id: { type: 'uuid', primary: true },
    organizationId: { type: 'uuid' },
    name: { type: 'text' },
    slug: { type: 'text' },
    taskQueue: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});

export const UserSchema = new EntitySchema<User>({
  name: 'User',
  tableName: 'users',
  properties: {
    id: { type: 'uuid', primary: true },
    organizationId: { type: 'uuid' },
    email: { type: 'text' },
    firstName: { type: 'text', nullable: true },
    lastName: { type: 'text', nullable: true },
    profilePictureUrl: { type: 'text', nullable: true },
    role: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});

export const ApiKeySchema = new EntitySchema<ApiKey>({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: { type: 'uuid', primary: true },
    organizationId: { type: 'uuid' },
    projectId: { type: 'uuid' },
    userId: { type: 'uuid' },
    name: { type: 'text' },
    prefix: { type: 'text' },
    keyHash: { type: 'text', unique: true },
    scopes: { type: 'text[]', columnType: 'text[]' },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
    lastUsedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    revokedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
  },
});

export interface RunRow {
  id: string; kind: string; executor: string | null; targetId: string | null; targetVersionId: string | null;
  targetVersion: number | null; triggerType: string | null; organizationId: string;
  projectId: string; createdBy: string | null; status: string; input: unknown; result: unknown; error: unknown;
  progress: unknown; attempt: number; maxAttempts: number; retryCount: number; interruptCount: number;
  parentId: string | null; rootId: string; depth: number; idempotencyKey: string | null;
  concurrencyKey: string | null; priority: number; tags: Record<string, string>; metadata: Record<string, unknown>;
  triggerMethod: string; triggerSourceType: string; triggerSourceId: string | null; batchId: string | null;
  scheduledAt: Date | null; expiresAt: Date | null; nextRetryAt: Date | null; heartbeatAt: Date | null;
  workflowRunId: string | null; createdAt: Date; updatedAt: Date; startedAt: Date | null; completedAt: Date | null;
  debugMode: boolean; continuationOf: string | null; lineageDepth: number; executionTrace: unknown; machinePreset: string | null;
}
export interface RunEventRow { id: string; runId: string; type: string; level: string; data: unknown; dedupeKey: string | null; createdAt: Date }
export interface RunLogRow {
  id: string; runId: string; attempt: number; workerId: string | null; level: string; event: string;
  message: string; data: unknown; dedupeKey: string | null; occurredAt: Date;
}

const ts = (nullable = true) => ({ type: 'Date', columnType: 'timestamptz', nullable }) as const;
const json = (nullable = true) => ({ type: 'json', columnType: 'jsonb', nullable }) as const;

export const RunSchema = new EntitySchema<RunRow>({
  name: 'Run',
  tableName: 'runs',
  properties: {
    id: { type: 'uuid', primary: true },
    kind: { type: 'text' },
    executor: { type: 'text', nullable: true },
    targetId: { type: 'uuid', nullable: true },
    targetVersionId: { type: 'uuid', nullable: true },
    targetVersion: { type: 'integer', nullable: true },
    triggerType: { type: 'text', nullable: true },
    organizationId: { type: 'uuid' },
    projectId: { type: 'uuid' },
    createdBy: { type: 'uuid', nullable: true },
    status: { type: 'text' },
    input: json(), result: json(), error: json(), progress: json(),
    attempt: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    retryCount: { type: 'integer' },
    interruptCount: { type: 'integer' },
    parentId: { type: 'uuid', nullable: true },
    rootId: { type: 'uuid' },
    depth: { type: 'integer' },
    idempotencyKey: { type: 'text', nullable: true },
    concurrencyKey: { type: 'text', nullable: true },
    priority: { type: 'integer' },
    tags: json(false), metadata: json(false),
    triggerMethod: { type: 'text' },
    triggerSourceType: { type: 'text' },
    triggerSourceId: { type: 'text', nullable: true },
    batchId: { type: 'uuid', nullable: true },
    scheduledAt: ts(), expiresAt: ts(), nextRetryAt: ts(), heartbeatAt: ts(),
    workflowRunId: { type: 'text', nullable: true },
    createdAt: ts(false), updatedAt: ts(false), startedAt: ts(), completedAt: ts(),
    debugMode: { type: 'boolean' },
    continuationOf: { type: 'uuid', nullable: true },
    lineageDepth: { type: 'integer' },
    executionTrace: json(),
    machinePreset: { type: 'text', nullable: true },
  },
});

export const RunEventSchema = new EntitySchema<RunEventRow>({
  name: 'RunEvent',
  tableName: 'run_events',
  properties: {
    id: { type: 'bigint', primary: true },
    runId: { type: 'uuid' },
    type: { type: 'text' },
    level: { type: 'text' },
    data: json(false),
    dedupeKey: { type: 'text', nullable: true },
    createdAt: ts(false),
  },
});

export const RunLogSchema = new EntitySchema<RunLogRow>({
  name: 'RunLog',
  tableName: 'run_logs',
  properties: {
    id: { type: 'bigint', primary: true },
    runId: { type: 'uuid' },
    attempt: { type: 'integer' },
    workerId: { type: 'text', nullable: true },
    level: { type: 'text' },
    event: { type: 'text' },
    message: { type: 'text' },
    data: json(),
    dedupeKey: { type: 'text', nullable: true },
    occurredAt: ts(false),
  },
});

export const entities = [
  OrganizationSchema, ProjectSchema, UserSchema, ApiKeySchema, RunSchema, RunEventSchema, RunLogSchema,
];
