import {
  Connection, Client, ScheduleAlreadyRunning, isRetryableError, makeGrpcRetryInterceptor, ScheduleOverlapPolicy, WorkflowExecutionAlreadyStartedError, type WorkflowStartOptions,
} from '@temporalio/client';

/** Search attributes every run workflow sets, so operators can filter runs in the Temporal UI. */
export const SEARCH_ATTRIBUTES = {
  TidewayRunKind: 'Keyword',
  TidewayProjectId: 'Keyword',
  TidewayOrganizationId: 'Keyword',
  TidewayStatus: 'Keyword',
  TidewayExecutor: 'Keyword',
} as const;

// Values of the IndexedValueType enum in temporal.api.enums.v1.
const INDEXED_VALUE_TYPE = { Keyword: 2 } as const;

/** Registers the search attributes on a namespace; existing ones are left alone. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([...Object.keys(existing.customAttributes ?? {}), ...Object.keys(existing.systemAttributes ?? {})]);
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !known.has(name));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]])),
  });
}

/**
 * A client connection that comes back soon after a Temporal outage: gRPC's default reconnect
 * backoff grows to two minutes, which keeps a restarted server unreachable long after it is up.
 * Calls are retried as by default (same retryable codes, ~25 s in all) but at most 1 s apart, so a
 * call made under a deadline (every API request has one) gives up at the deadline, not 5 s after it.
 */
export function connectTemporal(address: string): Promise<Connection> {
  return Connection.connect({
    address,
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 250, 'grpc.max_reconnect_backoff_ms': 2_000 },
    interceptors: [makeGrpcRetryInterceptor({
      delayFunction: (attempt) => Math.min(1_000, 100 * 1.7 ** attempt) * (0.8 + Math.random() * 0.4),
      retryableDecider: (attempt, status) => attempt < 30 && isRetryableError(status),
    })],
  });
}

export async function connectClient(address: string, namespace: string): Promise<Client> {
  return new Client({ connection: await connectTemporal(address), namespace });
}

/**
 * Starts a run's workflow. A run retried in place reuses its id: its previous execution persists
 * the terminal status just before it closes, so give that execution a moment to finish closing.
 */
export async function startRunWorkflow(client: Client, workflowType: string, options: WorkflowStartOptions): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.workflow.start(workflowType, options);
      return;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || attempt >= 50) throw err;
      await Promise.race([
        client.workflow.getHandle(options.workflowId).result().catch(() => undefined),
        new Promise((r) => setTimeout(r, 100)),
      ]);
    }
  }
}

/** The housekeeping schedule (retention and reconciliation); created once by whichever worker starts first. */
export async function ensureHousekeepingSchedule(client: Client, taskQueue: string, intervalSecs: number): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: 'tideway-housekeeping',
      spec: { intervals: [{ every: `${intervalSecs} seconds` }] },
      action: { type: 'startWorkflow', workflowType: 'housekeepingWorkflow', taskQueue, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
