import { v7 as uuidv7, validate, version } from 'uuid';

/** Time-ordered ids: a run id is also its Temporal workflow id. */
export const newId = (): string => uuidv7();

export function isUuid(value: string): boolean {
  return validate(value) && version(value) >= 1;
}
