import { loadConfig } from '../core/config';
import { initOrm } from '../db/orm';
import { createApiKey, ensureTenant } from '../db/tenancy';

/**
 * `npm run key:create [-- --org NAME --project SLUG --email EMAIL]`: prints a new API key once.
 * Uses DATABASE_URL, or the embedded Postgres of `npm start` (which must be running).
 */
async function main() {
  const args = process.argv.slice(2);
  const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
  const config = loadConfig();
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const file = path.join(config.dataDir, 'postgres', 'url');
    if (!fs.existsSync(file)) throw new Error('DATABASE_URL is not set and no embedded stack is running (start it with "npm start")');
    databaseUrl = fs.readFileSync(file, 'utf8').trim();
  }
  const orm = await initOrm({ databaseUrl, poolMax: 2 });
  const knex = orm.em.getConnection().getKnex();
  const tenant = await ensureTenant(knex, { organizationName: opt('org') ?? 'default', projectSlug: opt('project'), userEmail: opt('email') });
  const key = await createApiKey(knex, tenant, { name: opt('name') ?? 'cli' });
  console.log(key);
  await orm.close();
}
main().catch((err) => { console.error(err.message ?? err); process.exit(1); });
