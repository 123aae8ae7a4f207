import type { Context } from 'koa';
import type { RunHub } from './run-hub';
import type { RunEventRow } from '../db/entities';
import type { RunStore } from '../db/run-store';
import type { RunKind } from '../core/run-status';

export interface SseSource<T extends { id: string }> {
  runId: string;
  /** Names what `fetch` reads (`events:<run id>`): streams of one source share their reads. */
  key?: string;
  /** Exclusive cursor: the id of the last entry the client has. */
  after: string | null;
  fetch(after: string | null, limit: number): Promise<T[]>;
  event(row: T): string;
  data(row: T): unknown;
  /** Entries left out of this stream (the cursor still moves past them). */
  include?(row: T): boolean;
  /** True for the entry after which the stream closes (the run's terminal event). */
  isEnd(row: T): boolean;
  /** Whether the run is already over, for a client that resumes past its terminal event. */
  isFinished(): Promise<boolean>;
}

export const PING_INTERVAL_MS = 15_000;
const EVENT_ID = /^\d{1,18}$/;
/** The cursor a stream resumes from: Last-Event-ID (a reconnecting EventSource), else `?after=`. */
export function resumeCursor(ctx: Context, after: string | undefined): string | null {
  const last = ctx.get('last-event-id');
  return EVENT_ID.test(last) ? last : (after ?? null);
}
const PAGE = 500;

/**
 * Reads in flight by key. Every subscriber of a run wakes on the same notification and reads the
 * same page: the first starts the query and the others await it, so a run with a thousand
 * subscribers costs one query per write, not a thousand. The key carries the hub's notification
 * count, so a read is only joined by those it can satisfy (begun after what woke them).
 */
const inFlight = new Map<string, Promise<unknown>>();
function shared<T>(key: string, read: () => Promise<T>): Promise<T> {
  let p = inFlight.get(key) as Promise<T> | undefined;
  if (!p) {
    p = read().finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

/**
 * Serves one Server-Sent Events stream: replays history after the cursor, then tails live
 * entries announced through the hub, with `: ping` comments, and closes after the end entry.
 * Subscribing before the replay and reading by cursor means no gap and no duplicate.
 */
export function streamSse<T extends { id: string }>(ctx: Context, hub: RunHub, source: SseSource<T>): void {
  // Written to the response directly rather than through a body stream Koa pipes: an open stream
  // costs less memory, and a client leaving costs no stream errors (thousands may leave at once).
  const out = ctx.res;
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  ctx.respond = false;
  ctx.state.streaming = true;

  let cursor = source.after;
  let wake: (() => void) | null = null;
  let pending = true;
  let open = true;
  const notify = () => {
    pending = true;
    wake?.();
  };
  const unsubscribe = hub.subscribe(source.runId, notify);
  const ping = setInterval(() => out.write(': ping\n\n'), PING_INTERVAL_MS);
  const finish = () => {
    if (!open) return;
    open = false;
    clearInterval(ping);
    unsubscribe();
    wake?.();
    if (!out.destroyed) out.end();
  };
  out.on('close', finish);
  out.on('error', finish);
  out.write(': connected\n\n');

  const fetch = (after: string | null) => (source.key ? shared(`${source.key}:${after}:${hub.notifications}`, () => source.fetch(after, PAGE)) : source.fetch(after, PAGE));
  const isFinished = () => (source.key ? shared(`${source.key}:finished:${hub.notifications}`, () => source.isFinished()) : source.isFinished());

  /** Sends every entry after the cursor: 'end' once the end entry was sent, else how many entries it read. */
  const drain = async (): Promise<number | 'end'> => {
    let read = 0;
    for (;;) {
      const rows = await fetch(cursor);
      read += rows.length;
      for (const row of rows) {
        cursor = row.id;
        if (source.include && !source.include(row)) continue;
        out.write(`id: ${row.id}\nevent: ${source.event(row)}\ndata: ${JSON.stringify(source.data(row))}\n\n`);
        if (source.isEnd(row)) return 'end';
      }
      if (rows.length < PAGE) return read;
    }
  };

  void (async () => {
    try {
      for (let replay = true; open; replay = false) {
        if (!pending) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        if (!open) break;
        pending = false;
        const read = await drain();
        if (read === 'end') return;
        // A run that ended before the cursor has nothing more to send: read once more and close.
        // Asked after the replay and on a wake-up with nothing new; a live entry needs no check.
        if ((replay || read === 0) && (await isFinished())) {
          await drain();
          return;
        }
      }
    } catch {
      /* the client sees the stream end and resumes from its last id */
    } finally {
      finish();
    }
  })();
}

/** The run's event stream (status changes and everything else in run_events), for every run kind. */
export function streamRunEvents(
  ctx: Context, deps: { hub: RunHub; store: RunStore }, run: { id: string; kind: RunKind },
  opts: { after: string | undefined; event: (e: RunEventRow) => string; data: (e: RunEventRow) => unknown; include?: (e: RunEventRow) => boolean },
): void {
  streamSse<RunEventRow>(ctx, deps.hub, {
    runId: run.id,
    key: `events:${run.id}`,
    after: resumeCursor(ctx, opts.after),
    fetch: (a, limit) => deps.store.eventsAfter(run.id, a, limit),
    include: opts.include,
    event: opts.event,
    data: opts.data,
    isEnd: (e) => e.type === 'status' && (e.data as { terminal?: boolean }).terminal === true,
    isFinished: () => deps.store.isFinished(run.id, run.kind),
  });
}
