import { Client, Connection } from '@temporalio/client';
import { loadConfig, requireExternal } from '../core/config';
import { createLogger } from '../core/logger';
import { initOrm, migrate } from '../db/orm';
import { bootstrapKeys } from '../db/tenancy';
import { RunStore } from '../db/run-store';
import { createApp } from './app';
import { createMetrics } from './metrics';
import { RunHub } from './run-hub';

/** One API process; run several behind a load balancer (`npm run api`). */
async function main() {
  const config = loadConfig();
  const { databaseUrl, temporalAddress } = requireExternal(config);
  const log = createLogger('api', config.logLevel);
  const orm = await initOrm({ databaseUrl, poolMax: 20 });
  if (!process.env.TIDEWAY_SKIP_MIGRATIONS) await migrate(orm);
  const knex = orm.em.getConnection().getKnex();
  if (config.bootstrapApiKey) await bootstrapKeys(knex, config.bootstrapApiKey);
  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const hub = new RunHub(databaseUrl, log);
  await hub.start();
  const app = createApp({ config, orm, knex, store: new RunStore(knex), temporal, hub, log, metrics: createMetrics() });
  const server = app.listen(config.port, () => log.info({ port: config.port }, 'api listening'));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;

  const stop = async () => {
    log.info('api stopping');
    server.close();
    server.closeAllConnections();
    await hub.close();
    await connection.close();
    await orm.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
