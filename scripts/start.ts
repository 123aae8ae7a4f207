import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../core/config';
import { startStack, type Stack } from './stack';

/** `npm start`: the whole service on one machine, or pointed at external services by env. */
async function main() {
  const config = loadConfig();
  const t0 = Date.now();
  const readyFile = path.join(config.dataDir, 'stack.json');
  let stopping = false;
  const starting = startStack({
    dataDir: config.dataDir,
    apiPort: config.port,
    temporalPort: config.temporalPort,
    temporalUiPort: config.temporalUiPort,
    databaseUrl: config.databaseUrl,
    temporalAddress: config.temporalAddress,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    bootstrapApiKey: config.bootstrapApiKey,
    inheritOutput: true,
  });
  // Registered before start-up finishes, so Ctrl-C at any moment stops every part in order.
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`[tideway] ${signal}: stopping`);
    await starting.then((s) => s.stop()).catch(() => undefined);
    fs.rmSync(readyFile, { force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  const stack: Stack = await starting;
  if (stopping) return;

  // Where tools and tests find the running stack; removed on a clean stop.
  const { apiUrl, temporalAddress, temporalUiUrl, databaseUrl, namespace, taskQueue } = stack;
  fs.writeFileSync(readyFile, JSON.stringify({ apiUrl, temporalAddress, temporalUiUrl, databaseUrl, namespace, taskQueue, pid: process.pid,
    apiPid: stack.api.child.pid, workerPids: stack.workers.map((w) => w.child.pid) }), { mode: 0o600 });

  const lines = [
    '',
    `Tideway is ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    `  API            ${stack.apiUrl}`,
    `  OpenAPI docs   ${stack.apiUrl}/docs  (document: ${stack.apiUrl}/openapi.json)`,
    `  Temporal UI    ${stack.temporalUiUrl ?? '(external Temporal: use its own UI)'}`,
    `  Temporal       ${stack.temporalAddress}  namespace ${stack.namespace}, task queue ${stack.taskQueue}`,
    stack.newApiKey
      ? `  API key        ${stack.newApiKey}   (shown once: keep it; more with "npm run key:create")`
      : `  API key        use BOOTSTRAP_API_KEY or an existing key; create one with "npm run key:create"`,
    '',
  ];
  console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(`[tideway] start failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
