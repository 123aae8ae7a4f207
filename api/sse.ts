import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { RunHub } from './run-hub';
import type { RunEventRow } from '../db/entities';
import type { RunStore } from '../db/run-store';
import type { RunKind } from '../core/run-status';

export interface SseSource<T extends { id: string }> {
  runId: string;
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
 * Serves one Server-Sent Events stream: replays history after the cursor, then tails live
 * entries announced through the hub, with `: ping` comments, and closes after the end entry.
 * Subscribing before the replay and reading by cursor means no gap and no duplicate.
 */
export function streamSse<T extends { id: string }>(ctx: Context, hub: RunHub, source: SseSource<T>): void {
  const out = new PassThrough();
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  ctx.body = out;
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
    out.end();
  };
  ctx.req.on('close', finish);
  out.on('error', finish);
  out.write(': connected\n\n');

  /** Sends every entry after the cursor; true once the end entry was sent. */
  const drain = async (): Promise<boolean> => {
    for (;;) {
      const rows = await source.fetch(cursor, PAGE);
      for (const row of rows) {
        cursor = row.id;
        if (source.include && !source.include(row)) continue;
        out.write(`id: ${row.id}\nevent: ${source.event(row)}\ndata: ${JSON.stringify(source.data(row))}\n\n`);
        if (source.isEnd(row)) return true;
      }
      if (rows.length < PAGE) return false;
    }
  };

  void (async () => {
    try {
      while (open) {
        if (!pending) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        if (!open) break;
        pending = false;
        if (await drain()) return;
        // A run that ended before the cursor has nothing more to send: read once more and close.
        if (await source.isFinished()) {
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
    after: resumeCursor(ctx, opts.after),
    fetch: (a, limit) => deps.store.eventsAfter(run.id, a, limit),
    include: opts.include,
    event: opts.event,
    data: opts.data,
    isEnd: (e) => e.type === 'status' && (e.data as { terminal?: boolean }).terminal === true,
    isFinished: () => deps.store.isFinished(run.id, run.kind),
  });
}
