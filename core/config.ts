import path from 'node:path';
import { parseEgressPolicy, type EgressPolicy } from './egress';

/** Everything Tideway reads from the environment, in one place (documented in the README). */
export interface Config {
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  temporalPort: number;
  temporalUiPort: number;
  taskQueue: string;
  logLevel: string;
  bootstrapApiKey: string | undefined;
  runTokenSecret: string | undefined;
  /** Heartbeat timeout of executor activities: how fast a lost worker is noticed. */
  activityHeartbeatTimeoutSecs: number;
  workerId: string;
  /** Terminal runs older than this are deleted by housekeeping. */
  runRetentionDays: number;
  /** How often the housekeeping schedule runs (retention and reconciliation). */
  housekeepingIntervalSecs: number;
  /** How long a run row and its workflow must disagree before the reconciler repairs them. */
  reconcileAfterSecs: number;
  /** Where workers may send requests: anywhere, or only this machine (test and fuzzing stacks). */
  egress: EgressPolicy;
  /** A client must send its request headers within this (slowloris protection). */
  httpHeadersTimeoutMs: number;
  /** ... and its whole request, body included, within this; responses (SSE streams) are not bounded. */
  httpRequestTimeoutMs: number;
  /** How long a request may wait on Temporal (whose client retries while it is unreachable) before it answers 503. */
  temporalRequestTimeoutMs: number;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.DATA_DIR || '.data');
  return {
    port: int('PORT', 8080),
    dataDir,
    databaseUrl: env.DATABASE_URL || undefined,
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    temporalPort: int('TEMPORAL_PORT', 7233),
    temporalUiPort: int('TEMPORAL_UI_PORT', 8233),
    taskQueue: env.TEMPORAL_TASK_QUEUE || 'tideway',
    logLevel: env.LOG_LEVEL || 'info',
    bootstrapApiKey: env.BOOTSTRAP_API_KEY || undefined,
    runTokenSecret: env.RUN_TOKEN_SECRET || undefined,
    activityHeartbeatTimeoutSecs: int('ACTIVITY_HEARTBEAT_TIMEOUT_SECS', 10),
    workerId: env.WORKER_ID || `${require('node:os').hostname()}:${process.pid}`,
    runRetentionDays: int('RUN_RETENTION_DAYS', 30),
    housekeepingIntervalSecs: int('HOUSEKEEPING_INTERVAL_SECS', 300),
    reconcileAfterSecs: int('RECONCILE_AFTER_SECS', 120),
    egress: parseEgressPolicy(env.EGRESS),
    httpHeadersTimeoutMs: int('HTTP_HEADERS_TIMEOUT_MS', 15_000),
    httpRequestTimeoutMs: int('HTTP_REQUEST_TIMEOUT_MS', 60_000),
    temporalRequestTimeoutMs: int('TEMPORAL_REQUEST_TIMEOUT_MS', 10_000),
  };
}

/** For processes that must be pointed at external services (npm run api / npm run worker). */
export function requireExternal(config: Config): { databaseUrl: string; temporalAddress: string } {
  const missing = [
    !config.databaseUrl && 'DATABASE_URL',
    !config.temporalAddress && 'TEMPORAL_ADDRESS',
  ].filter(Boolean);
  if (missing.length) {
    throw new Error(`${missing.join(' and ')} must be set (use "npm start" for the embedded stack)`);
  }
  return { databaseUrl: config.databaseUrl!, temporalAddress: config.temporalAddress! };
}
