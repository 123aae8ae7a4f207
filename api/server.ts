import http from 'node:http';
import { Client } from '@temporalio/client';
import { connectTemporal, ensureSearchAttributes } from '../core/temporal';
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
  const connection = await connectTemporal(temporalAddress);
  // Runs are started with Tideway's search attributes: make sure they exist even if no worker ran yet.
  await ensureSearchAttributes(connection, config.temporalNamespace);
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const hub = new RunHub(databaseUrl, log);
  await hub.start();
  const app = createApp({ config, orm, knex, store: new RunStore(knex), temporal, hub, log, metrics: createMetrics() });
  const server = http.createServer({
    // Slow clients are dropped (408): headers and the whole request each have a deadline. Only
    // receiving the request is bounded, so long-lived responses (SSE streams) are not.
    headersTimeout: config.httpHeadersTimeoutMs,
    requestTimeout: config.httpRequestTimeoutMs,
    // Enforce them to the second (Node checks every 30 s by default); idle connections cost nothing here.
    connectionsCheckingInterval: 1_000,
  }, app.callback());
  // Longer than the idle timeout of common load balancers (60 s), so they never reuse a closed connection.
  server.keepAliveTimeout = 65_000;
  server.listen(config.port, () => log.info({ port: config.port }, 'api listening'));

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
