import type pg from 'pg';
import type { Result } from '../../../domain/result.js';
import type { AppendError, AppendSuccess, ExpectedRevision } from '../port.js';
import { appendBatch, type ParsedEvent } from './append-batch.js';

type Outcome = Result<AppendSuccess, AppendError>;

interface Pending {
  streamId: string;
  expected: ExpectedRevision;
  events: ParsedEvent[];
  bytes: number;
  resolve: (o: Outcome) => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions {
  /** Batches committing at the same time (each on its own connection). */
  maxInFlight: number;
  /** Upper bounds of one batch. */
  maxEvents: number;
  maxBytes: number;
  onBatch?: (appends: number, events: number, ms: number) => void;
}

/**
 * Group commit: appends that arrive while a batch is committing wait and go together in the next
 * transaction, so N concurrent writers cost one commit (one WAL flush) instead of N. A lone writer
 * is never delayed: with nothing in flight its append is sent at once.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly pool: pg.Pool, private readonly options: GroupCommitOptions) {}

  submit(streamId: string, expected: ExpectedRevision, events: Pending['events']): Promise<Outcome> {
    const bytes = events.reduce((n, e) => n + e.data.length + e.metadata.length, 0);
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, expected, events, bytes, resolve, reject });
      this.pump();
    });
  }

  /** Resolves when nothing is queued or committing. */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch: Pending[] = [];
      const deferred: Pending[] = [];
      const ids = new Set<string>();
      let events = 0;
      let bytes = 0;
      while (this.queue.length > 0) {
        const next = this.queue[0]!;
        if (batch.length > 0 && (events + next.events.length > this.options.maxEvents || bytes + next.bytes > this.options.maxBytes)) break;
        this.queue.shift();
        // The same event id twice in one batch (a retry racing its original) waits for the next
        // batch, where the idempotency check sees the first one committed.
        if (next.events.some((e) => ids.has(e.eventId))) {
          deferred.push(next);
          continue;
        }
        next.events.forEach((e) => ids.add(e.eventId));
        batch.push(next);
        events += next.events.length;
        bytes += next.bytes;
      }
      this.queue.unshift(...deferred);
      this.inFlight++;
      void this.commit(batch, events).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.queue.length === 0 && this.inFlight === 0) this.idleWaiters.splice(0).forEach((r) => r());
      });
    }
  }

  private async commit(batch: Pending[], eventCount: number): Promise<void> {
    const started = performance.now();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      batch.forEach((p) => p.reject(e));
      return;
    }
    try {
      const outcomes = await appendBatch(client, batch);
      batch.forEach((p, i) => p.resolve(outcomes[i]!));
      client.release();
      this.options.onBatch?.(batch.length, eventCount, performance.now() - started);
    } catch (e) {
      client.release(isConnectionError(e) ? (e as Error) : undefined);
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      // One bad append (or a deadlock with another process) must not fail its neighbours:
      // retry each on its own so the error reaches only the append that caused it.
      await Promise.all(batch.map((p) => this.commit([p], p.events.length)));
    }
  }
}

function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code.startsWith('08') || code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === '57P01';
}
