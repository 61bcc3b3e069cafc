import type pg from 'pg';
import type { Result } from '../../../domain/result.js';
import type { AppendError, AppendSuccess } from '../port.js';
import { appendBatch, type PreparedAppend } from './append-batch.js';

type Outcome = Result<AppendSuccess, AppendError>;

interface Pending {
  requests: PreparedAppend[];
  /** All requests commit together or none does; such a group is committed on its own. */
  atomic: boolean;
  events: number;
  bytes: number;
  resolve: (o: Outcome[]) => void;
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
 * transaction, so N concurrent writers cost one commit (one WAL flush) instead of N. With nothing
 * in flight, a batch starts at the end of the current event-loop turn (setImmediate): the appends
 * of requests that were ready in the same turn go together instead of the first one alone. A
 * lone writer waits only for callbacks already ready to run, never for a timer.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private pumpScheduled = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: GroupCommitOptions,
  ) {}

  submit(requests: PreparedAppend[], atomic: boolean): Promise<Outcome[]> {
    let events = 0;
    let bytes = 0;
    for (const r of requests) {
      events += r.events.length;
      for (const e of r.events) bytes += e.data.length + e.metadata.length;
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ requests, atomic, events, bytes, resolve, reject });
      // while a batch commits, its completion starts the next one
      if (!this.pumpScheduled && this.inFlight < this.options.maxInFlight) {
        this.pumpScheduled = true;
        setImmediate(() => {
          this.pumpScheduled = false;
          this.pump();
        });
      }
    });
  }

  /** Resolves when nothing is queued or committing. */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.takeBatch();
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.queue.length === 0 && this.inFlight === 0) this.idleWaiters.splice(0).forEach((r) => r());
      });
    }
  }

  private takeBatch(): Pending[] {
    if (this.queue[0]!.atomic) return [this.queue.shift()!];
    const batch: Pending[] = [];
    const deferred: Pending[] = [];
    const ids = new Set<string>();
    let events = 0;
    let bytes = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (next.atomic) break;
      if (
        batch.length > 0 &&
        (events + next.events > this.options.maxEvents || bytes + next.bytes > this.options.maxBytes)
      )
        break;
      this.queue.shift();
      const nextIds = next.requests.flatMap((r) => r.events.map((e) => e.eventId));
      // The same event id twice in one batch (a retry racing its original) waits for the next
      // batch, where the idempotency check sees the first one committed.
      if (nextIds.some((id) => ids.has(id))) {
        deferred.push(next);
        continue;
      }
      nextIds.forEach((id) => ids.add(id));
      batch.push(next);
      events += next.events;
      bytes += next.bytes;
    }
    this.queue.unshift(...deferred);
    return batch;
  }

  private async commit(batch: Pending[], retried = false): Promise<void> {
    const started = performance.now();
    const atomic = batch.length === 1 && batch[0]!.atomic;
    const requests = batch.flatMap((p) => p.requests);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      batch.forEach((p) => p.reject(e));
      return;
    }
    try {
      const outcomes = await appendBatch(client, requests, atomic);
      client.release();
      let offset = 0;
      for (const p of batch) {
        p.resolve(outcomes.slice(offset, offset + p.requests.length));
        offset += p.requests.length;
      }
      this.options.onBatch?.(
        requests.length,
        batch.reduce((n, p) => n + p.events, 0),
        performance.now() - started,
      );
    } catch (e) {
      const stale = isStalePreparedStatement(e);
      client.release(isConnectionError(e) || stale ? (e as Error) : undefined);
      // the connection is closed and the batch, which did not run, goes again on a new one
      if (stale && !retried) {
        await this.commit(batch, true);
        return;
      }
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      // One bad append (or a deadlock with another process) must not fail its neighbours: retry
      // the halves one after the other, down to the append that caused it. One bad append in n
      // costs about 2·log2(n) round trips on one connection at a time, instead of n connections
      // taken from the pool at once (which would starve every other query of this process).
      const half = Math.ceil(batch.length / 2);
      await this.commit(batch.slice(0, half));
      await this.commit(batch.slice(half));
    }
  }
}

/**
 * The append is a named prepared statement (append-batch.ts). A migration that changed what it
 * returns (run by a newer CLI or a rolling upgrade while this process runs), or a server that
 * forgot it, fails it on this connection for good: 0A000 "cached plan must not change result
 * type", 26000 "prepared statement does not exist".
 */
function isStalePreparedStatement(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code === '0A000' || code === '26000';
}

function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code.startsWith('08') || code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === '57P01';
}
