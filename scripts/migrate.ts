import { loadConfig } from '../core/config';
import { initOrm, migrate } from '../db/orm';

async function main() {
  const { databaseUrl } = loadConfig();
  if (!databaseUrl) throw new Error('DATABASE_URL must be set');
  const orm = await initOrm({ databaseUrl, poolMax: 2 });
  const applied = await migrate(orm);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
  await orm.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
