import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const RUN_KIND_KEY = defineSearchAttributeKey('TidewayRunKind', SearchAttributeType.KEYWORD);
export const PROJECT_KEY = defineSearchAttributeKey('TidewayProjectId', SearchAttributeType.KEYWORD);
export const ORGANIZATION_KEY = defineSearchAttributeKey('TidewayOrganizationId', SearchAttributeType.KEYWORD);
export const STATUS_KEY = defineSearchAttributeKey('TidewayStatus', SearchAttributeType.KEYWORD);
export const EXECUTOR_KEY = defineSearchAttributeKey('TidewayExecutor', SearchAttributeType.KEYWORD);

/** The attributes a run workflow starts with (kind-specific ones added by the caller). */
export function runSearchAttributes(kind: string, organizationId: string, projectId: string, status: string, executor?: string) {
  return [
    { key: RUN_KIND_KEY, value: kind },
    { key: PROJECT_KEY, value: projectId },
    { key: ORGANIZATION_KEY, value: organizationId },
    { key: STATUS_KEY, value: status },
    ...(executor ? [{ key: EXECUTOR_KEY, value: executor }] : []),
  ];
}
