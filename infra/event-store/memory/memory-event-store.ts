/**
 * An in-memory event store, for fast, deterministic unit tests of what is built on the port (the
 * command handler, projections) without PostgreSQL. It keeps the port's promises as the Postgres
 * adapter does: optimistic concurrency, idempotent appends, event ids unique across the log,
 * atomic appendMany, "transaction:position" checkpoints, catch-up then live subscriptions that
 * wake on commit. Commits happen in call order; clock and event ids can be injected.
 *
 * It does not keep anything: no durability, nothing shared between OS processes, no uncommitted
 * transactions to observe (an append is decided and committed in one step). Never for production.
 */
import type { Result } from '../../../domain/result.js';
import { err, ok } from '../../../domain/result.js';
import type { AppendRequest } from '../postgres/append-batch.js';
import type {
  AppendError,
  AppendSuccess,
  BatchHandler,
  Checkpoint,
  EventFilter,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  ReadAllResult,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from '../port.js';
import { START } from '../port.js';
import { MemoryEventLog, toRecordedEvent } from './memory-log.js';
import { prepareAppends } from './prepare-append.js';
import { MemorySubscription } from './subscription.js';

export interface MemoryEventStoreOptions {
  /** The log to work on (default: a new, empty one); stores sharing a log are two processes on one database. */
  log?: MemoryEventLog;
}

export class MemoryEventStore implements EventStore {
  readonly log: MemoryEventLog;
  private readonly subscriptions = new Set<MemorySubscription>();
  private closed = false;

  constructor(options: MemoryEventStoreOptions = {}) {
    this.log = options.log ?? new MemoryEventLog();
  }

  async append(
    streamId: string,
    events: EventToAppend[],
    expected: ExpectedRevision,
  ): Promise<Result<AppendSuccess, AppendError>> {
    const appended = await this.appendMany([{ streamId, events, expected }]);
    return appended.ok ? ok(appended.value[0]!) : appended;
  }

  async appendMany(appends: AppendRequest[]): Promise<Result<AppendSuccess[], AppendError>> {
    this.assertOpen();
    const prepared = prepareAppends(appends, this.log.newEventId);
    if (!prepared.ok) return err(prepared.error);
    if (prepared.value.length === 0) return ok([]);
    return this.log.append(prepared.value);
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const from = Math.max(0, options.fromRevision ?? 0);
    const to = options.limit === undefined ? undefined : from + Math.max(0, options.limit);
    return this.log.stream(streamId).slice(from, to).map(toRecordedEvent);
  }

  async readStreams(streamIds: string[]): Promise<Map<string, RecordedEvent[]>> {
    return new Map(streamIds.map((id) => [id, this.log.stream(id).map(toRecordedEvent)]));
  }

  async streamRevisions(streamIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const id of streamIds) {
      const last = this.log.stream(id).at(-1);
      if (last) out.set(id, toRecordedEvent(last).revision);
    }
    return out;
  }

  async readAll(from: Checkpoint, limit: number, filter?: EventFilter): Promise<ReadAllResult> {
    const after = this.log.positionOf(from);
    const { events, scannedTo } = this.log.scan(after, Math.max(0, limit), filter);
    const recorded = events.map(toRecordedEvent);
    // filtered and short: past everything looked through, as the port says
    if (filter && recorded.length < limit && scannedTo > after)
      return { events: recorded, checkpoint: this.log.checkpointAt(scannedTo) };
    return { events: recorded, checkpoint: recorded.length > 0 ? recorded[recorded.length - 1]!.checkpoint : from };
  }

  subscribeAll(options: SubscribeOptions, handler: BatchHandler): Subscription {
    this.assertOpen();
    const batchSize = options.batchSize ?? 1000;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a whole number ≥ 1, got ${batchSize}`);
    }
    const filter = options.filter ? { filter: options.filter } : {};
    const sub = new MemorySubscription({ log: this.log, from: options.from ?? START, batchSize, handler, ...filter });
    this.subscriptions.add(sub);
    void sub.done.catch(() => undefined).finally(() => this.subscriptions.delete(sub));
    return sub;
  }

  async headCheckpoint(): Promise<Checkpoint> {
    return this.log.headCheckpoint();
  }

  /**
   * Not in the port, for tests (instead of "wait until"): resolves once every running
   * subscription of this store has handled every event committed so far; rejects with the error
   * of a handler that fails meanwhile. A subscription that ended before is not waited for.
   */
  async caughtUp(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.caughtUp()));
  }

  async healthy(): Promise<boolean> {
    return !this.closed;
  }

  /** Stops the subscriptions; the log (shared, perhaps) is left as it is. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the event store is closed');
  }
}
