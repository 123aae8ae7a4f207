import path from 'node:path';
import fs from 'node:fs';
import { NativeConnection, Worker, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { loadConfig, requireExternal } from '../core/config';
import { createLogger } from '../core/logger';
import { connectTemporal, ensureHousekeepingSchedule, ensureSearchAttributes } from '../core/temporal';
import { initOrm, migrate } from '../db/orm';
import { RunStore } from '../db/run-store';
import { AutomationStore } from '../db/automation-store';
import { JobStore } from '../db/job-store';
import { createActivities } from '../activities';
import { guardedFetch } from '../core/egress';

/**
 * One worker process: run workflows and activities of one task queue. Start as many as needed
 * (`npm run worker`); Temporal spreads the work and takes over a dead worker's tasks.
 */
async function main() {
  const config = loadConfig();
  const { databaseUrl, temporalAddress } = requireExternal(config);
  const log = createLogger('worker', config.logLevel);
  Runtime.install({ telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } } });

  const orm = await initOrm({ databaseUrl, poolMax: 10 });
  if (!process.env.TIDEWAY_SKIP_MIGRATIONS) await migrate(orm);
  const store = new RunStore(orm.em.getConnection().getKnex());
  const clientConnection = await connectTemporal(temporalAddress);
  await ensureSearchAttributes(clientConnection, config.temporalNamespace);
  const client = new Client({ connection: clientConnection, namespace: config.temporalNamespace });
  const connection = await NativeConnection.connect({ address: temporalAddress });

  const bundlePath = process.env.WORKFLOW_BUNDLE_PATH;
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    identity: config.workerId,
    ...(bundlePath && fs.existsSync(bundlePath)
      ? { workflowBundle: { codePath: bundlePath } }
      : { workflowsPath: path.resolve(__dirname, '../workflows') }),
    activities: createActivities({
      store, automations: new AutomationStore(store.knex), client, http: { fetch: guardedFetch(config.egress) }, egress: config.egress, workerId: config.workerId,
      taskQueue: config.taskQueue, heartbeatTimeoutSecs: config.activityHeartbeatTimeoutSecs,
      jobs: new JobStore(store.knex), runTokenSecret: config.runTokenSecret,
      retentionDays: config.runRetentionDays, reconcileAfterSecs: config.reconcileAfterSecs,
    }),
    shutdownGraceTime: '10 seconds',
  });
  await ensureHousekeepingSchedule(client, config.taskQueue, config.housekeepingIntervalSecs);
  log.info({ taskQueue: config.taskQueue, workerId: config.workerId }, 'worker started');

  const stop = () => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await worker.run();
  await clientConnection.close();
  await connection.close();
  await orm.close();
  log.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
