import pg from 'pg';
import type { Logger } from '../../logging/index.js';
import type { EventFilter } from '../port.js';
import { NOTIFY_CHANNEL } from './append-batch.js';

/**
 * The kinds of streams a commit appended to (each a stream id up to its first "-"), as its
 * notification names them; undefined: not known (an empty payload, a reconnection), so anything.
 */
export type StreamKinds = readonly string[] | undefined;

export function streamKinds(payload: string | undefined): StreamKinds {
  return payload ? payload.split(',') : undefined;
}

/**
 * Whether a commit of these kinds of streams may hold events the filter takes. A stream the
 * filter takes starts with one of its prefixes and with its own kind, so one of the two starts
 * with the other ("send-" and "send-limit-"): no commit the filter cares about is passed over.
 */
export function mayConcern(kinds: StreamKinds, filter: EventFilter | undefined): boolean {
  const prefixes = filter?.streamPrefixes;
  if (!kinds || !prefixes || prefixes.length === 0) return true;
  return kinds.some((k) => prefixes.some((p) => p.startsWith(k) || k.startsWith(p)));
}

/**
 * One LISTEN connection per store, fanned out to every subscription in the process. A
 * notification only wakes readers up; they always read from the table, so a lost notification
 * costs latency (until the next poll), never an event. Each names the kinds of streams its commit
 * wrote: a subscription to other streams is not woken (a worker's DMARC, blocklist and inbound
 * readers read the log after every commit of every message, most of the log reads of a busy MTA).
 */
export class CommitNotifications {
  private client: pg.Client | undefined;
  private readonly listeners = new Set<(kinds: StreamKinds) => void>();
  private closed = false;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {}

  on(listener: (kinds: StreamKinds) => void): () => void {
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
    client.on('notification', (n) => {
      const kinds = streamKinds(n.payload);
      this.listeners.forEach((l) => l(kinds));
    });
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
      this.listeners.forEach((l) => l(undefined)); // anything committed while we were away
    } catch (err) {
      this.logger.warn({ err }, 'could not LISTEN for event notifications; retrying');
      await client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.ensureConnected(), 1000).unref();
    }
  }
}
