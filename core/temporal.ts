import { Connection, Client } from '@temporalio/client';

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
