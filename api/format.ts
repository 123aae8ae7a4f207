/** Shared response formatting: ISO-8601 UTC timestamps and durations, `null` when not applicable. */
export const iso = (d: Date | string | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

/** Seconds from `start` to `end` (or now while running); null before it started. */
export const seconds = (start: Date | null, end: Date | null): number | null =>
  start ? Math.max(0, ((end ? new Date(end).getTime() : Date.now()) - new Date(start).getTime()) / 1000) : null;
