import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from './entities';
import { migrationsList } from './migrations';

export type Orm = MikroORM;

export interface OrmOptions {
  databaseUrl: string;
  poolMax?: number;
}

export async function initOrm({ databaseUrl, poolMax = 10 }: OrmOptions): Promise<Orm> {
  return MikroORM.init({
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false },
    pool: { min: 0, max: poolMax },
    debug: false,
    allowGlobalContext: false,
  });
}

/** Applies pending migrations under an advisory lock, so several processes may start at once. */
export async function migrate(orm: Orm): Promise<string[]> {
  const conn = orm.em.getConnection();
  const knex = conn.getKnex();
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(7421001)');
    const migrator = orm.getMigrator();
    const pending = await migrator.getPendingMigrations();
    if (pending.length === 0) return [];
    const done = await migrator.up();
    return done.map((m) => m.name);
  });
}
