import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { activities } from './activities';

/** A bare Temporal worker for the baseline workflows: `TEMPORAL_ADDRESS=… tsx bench/baseline/worker.ts <task-queue>`. */
async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const worker = await Worker.create({
    connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', taskQueue: process.argv[2] ?? 'bench-baseline',
    workflowsPath: require.resolve('./workflows'), activities,
  });
  process.once('SIGTERM', () => worker.shutdown());
  process.once('SIGINT', () => worker.shutdown());
  console.log('baseline worker polling');
  await worker.run();
  await connection.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
