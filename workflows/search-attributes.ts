import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const RUN_KIND_KEY = defineSearchAttributeKey('TidewayRunKind', SearchAttributeType.KEYWORD);
export const PROJECT_KEY = defineSearchAttributeKey('TidewayProjectId', SearchAttributeType.KEYWORD);
export const ORGANIZATION_KEY = defineSearchAttributeKey('TidewayOrganizationId', SearchAttributeType.KEYWORD);
export const STATUS_KEY = defineSearchAttributeKey('TidewayStatus', SearchAttributeType.KEYWORD);
export const EXECUTOR_KEY = defineSearchAttributeKey('TidewayExecutor', SearchAttributeType.KEYWORD);
