import pg from 'pg';
import type { Logger } from '../../logging/index.js';
import { NOTIFY_CHANNEL } from './append-batch.js';

/**
 * One LISTEN connection per store, fanned out to every subscription in the process. A
 * notification only wakes readers up; they always read from the table, so a lost notification
 * costs latency (until the next poll), never an event.
 */
export class CommitNotifications {
  private client: pg.Client | undefined;
  private readonly listeners = new Set<() => void>();
  private closed = false;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {}

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    void this.ensureConnected();
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private ensureConnected(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', () => this.listeners.forEach((l) => l()));
    client.on('error', (err) => {
      this.logger.warn(
        { err },
        'event notification connection lost; subscribers fall back to polling until it is back',
      );
      this.client = undefined;
      client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.ensureConnected(), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.listeners.forEach((l) => l()); // anything committed while we were away
    } catch (err) {
      this.logger.warn({ err }, 'could not LISTEN for event notifications; retrying');
      await client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.ensureConnected(), 1000).unref();
    }
  }
}
