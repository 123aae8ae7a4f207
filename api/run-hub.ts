import { Client } from 'pg';
import { RUN_CHANNEL } from '../db/run-store';
import type { Logger } from '../core/logger';

/**
 * One LISTEN connection per API process fans run notifications out to local subscribers
 * (SSE streams). Writers NOTIFY in the same transaction as the row, so every API instance sees
 * every write.
 */
export class RunHub {
  private client: Client | null = null;
  private readonly listeners = new Map<string, Set<() => void>>();
  private closed = false;
  /**
   * Notifications received so far. A read begun when this was n sees every write announced by the
   * first n, so readers that find the same n may share one read (see sse.ts).
   */
  notifications = 0;

  constructor(private readonly databaseUrl: string, private readonly log: Logger) {}

  async start(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl });
    client.on('notification', (msg) => {
      this.notifications++;
      if (msg.payload) this.listeners.get(msg.payload)?.forEach((fn) => fn());
    });
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'run hub connection lost; reconnecting');
      void this.reconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${RUN_CHANNEL}`);
    this.client = client;
  }

  private async reconnect(): Promise<void> {
    const old = this.client;
    this.client = null;
    await old?.end().catch(() => undefined);
    while (!this.closed) {
      try {
        await this.start();
        // Wake everyone: they re-read from their cursor, so nothing written meanwhile is missed.
        this.notifications++;
        this.listeners.forEach((set) => set.forEach((fn) => fn()));
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  subscribe(runId: string, fn: () => void): () => void {
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (set!.size === 0) this.listeners.delete(runId);
    };
  }

  get subscriberCount(): number {
    let n = 0;
    this.listeners.forEach((s) => (n += s.size));
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }
}
