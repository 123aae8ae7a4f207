import {
  Connection, Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, WorkflowExecutionAlreadyStartedError, type WorkflowStartOptions,
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

export async function connectClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace });
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
