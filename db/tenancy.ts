import crypto from 'node:crypto';
import type { Knex } from '@mikro-orm/knex';
import { newId } from '../core/ids';
import { one } from './sql';

/** API keys are random, shown once, and stored only as a SHA-256 hash. */
export const hashApiKey = (key: string): string => crypto.createHash('sha256').update(key).digest('hex');

export function generateApiKey(): string {
  return `tw_${crypto.randomBytes(24).toString('base64url')}`;
}

export const ADMIN_SCOPES = ['runs:read', 'runs:write', 'admin'];

export interface Tenant {
  organizationId: string;
  projectId: string;
  userId: string;
}

export interface TenantSpec {
  organizationName: string;
  projectSlug?: string;
  userEmail?: string;
  firstName?: string;
  lastName?: string;
  taskQueue?: string | null;
}

/** Finds or creates an organization with a project and an admin user (idempotent by name). */
export async function ensureTenant(knex: Knex, spec: TenantSpec): Promise<Tenant> {
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 1))', [spec.organizationName]);
    const org =
      (await one<{ id: string }>(trx, 'select id from organizations where name = ? order by created_at limit 1', [spec.organizationName])) ??
      (await one<{ id: string }>(trx, 'insert into organizations (id, name) values (?, ?) returning id', [newId(), spec.organizationName]))!;
    const slug = spec.projectSlug ?? 'default';
    const project =
      (await one<{ id: string }>(trx, 'select id from projects where organization_id = ? and slug = ?', [org.id, slug])) ??
      (await one<{ id: string }>(trx, 'insert into projects (id, organization_id, name, slug, task_queue) values (?, ?, ?, ?, ?) returning id', [
        newId(), org.id, slug, slug, spec.taskQueue ?? null,
      ]))!;
    const email = spec.userEmail ?? 'admin@localhost';
    const user =
      (await one<{ id: string }>(trx, 'select id from users where organization_id = ? and email = ?', [org.id, email])) ??
      (await one<{ id: string }>(trx, `insert into users (id, organization_id, email, first_name, last_name, role) values (?, ?, ?, ?, ?, 'admin') returning id`, [
        newId(), org.id, email, spec.firstName ?? 'Admin', spec.lastName ?? null,
      ]))!;
    return { organizationId: org.id, projectId: project.id, userId: user.id };
  });
}

export async function createApiKey(knex: Knex, tenant: Tenant, opts: { name?: string; key?: string; scopes?: string[] } = {}): Promise<string> {
  const key = opts.key ?? generateApiKey();
  await knex.raw(
    `insert into api_keys (id, organization_id, project_id, user_id, name, prefix, key_hash, scopes)
     values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (key_hash) do nothing`,
    [newId(), tenant.organizationId, tenant.projectId, tenant.userId, opts.name ?? 'default', key.slice(0, 10), hashApiKey(key), opts.scopes ?? ADMIN_SCOPES],
  );
  return key;
}

export const DEFAULT_TENANT: TenantSpec = { organizationName: 'default' };

/**
 * Start-up bootstrap: the default tenant, and an API key. With BOOTSTRAP_API_KEY that exact key
 * exists afterwards; without it a key is created only when none exists, and returned to be printed once.
 */
export async function bootstrapKeys(knex: Knex, bootstrapKey?: string): Promise<{ tenant: Tenant; newKey: string | null }> {
  const tenant = await ensureTenant(knex, DEFAULT_TENANT);
  if (bootstrapKey) {
    await createApiKey(knex, tenant, { name: 'bootstrap', key: bootstrapKey });
    return { tenant, newKey: null };
  }
  const any = await one(knex, 'select 1 as x from api_keys where organization_id = ? and revoked_at is null limit 1', [tenant.organizationId]);
  if (any) return { tenant, newKey: null };
  return { tenant, newKey: await createApiKey(knex, tenant, { name: 'first key' }) };
}
