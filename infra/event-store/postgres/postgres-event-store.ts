import type pg from 'pg';
import type { Logger } from '../../logging/index.js';
import type { Result } from '../../../domain/result.js';
import { err, ok } from '../../../domain/result.js';
import {
  START,
  type AppendError,
  type AppendSuccess,
  type BatchHandler,
  type Checkpoint,
  type EventFilter,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../port.js';
import { prepare, type AppendRequest, type PreparedAppend } from './append-batch.js';
import { compareCheckpoints, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { GroupCommitter } from './group-committer.js';
import { likePrefixPatterns } from './log-lag.js';
import { CommitNotifications } from './notifications.js';
import { EVENT_COLUMNS, toRecordedEvent, type EventRow } from './rows.js';
import { RecentEvents } from './recent-events.js';
import { PollingSubscription } from './subscription.js';

export interface PostgresEventStoreOptions {
  pool: pg.Pool;
  /** For the LISTEN connection (kept out of the pool). */
  connectionString: string;
  logger: Logger;
  /** Batches committing at once. 1 measured best: commits serialise on the WAL flush anyway, and waiting appends make the next batch bigger. */
  maxInFlightBatches?: number;
  maxBatchEvents?: number;
  maxBatchBytes?: number;
  /** Fallback poll interval of subscriptions, for commits whose notification was missed. */
  pollIntervalMs?: number;
  /** How long a caught-up subscription gathers commits before it reads again (see PollingSubscription). */
  subscriptionLingerMs?: number;
  onBatch?: (appends: number, events: number, ms: number) => void;
}

/**
 * How long a caught-up subscription gathers commits before it reads again (PollingSubscription's
 * lingerMs). Each read, projection transaction and checkpoint write has a cost of its own, paid per
 * batch: at 10 ms the worker's projections read and wrote a few messages at a time under load. At
 * 40 ms, A/B of the `delivery` bench at 3 KB (2 pairs, one hour): PostgreSQL CPU per message 1,302 /
 * 1,200 against 1,472 / 1,457 µs, Postlog's own 3,417 / 3,194 against 3,665 / 3,647 µs. (100 ms
 * was no better.) The read models, webhooks and the delivery queue follow the log up to that much later;
 * the first commit after a quiet spell is still read at once.
 */
const DEFAULT_SUBSCRIPTION_LINGER_MS = 40;

/** Readers see only transactions older than every one still running: see ARCHITECTURE.md. */
const COMMITTED_ONLY = 'transaction_id < pg_snapshot_xmin(pg_current_snapshot())';

export class PostgresEventStore implements EventStore {
  private readonly committer: GroupCommitter;
  private readonly notifications: CommitNotifications;
  private readonly subscriptions = new Set<PollingSubscription>();
  /** The last stretch of the log read here, for the process's other readers (its projections). */
  private readonly recent = new RecentEvents();
  private closed = false;

  constructor(private readonly options: PostgresEventStoreOptions) {
    this.committer = new GroupCommitter(options.pool, {
      maxInFlight: options.maxInFlightBatches ?? 1,
      maxEvents: options.maxBatchEvents ?? 2000,
      maxBytes: options.maxBatchBytes ?? 8 * 1024 * 1024,
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
    });
    this.notifications = new CommitNotifications(options.connectionString, options.logger);
  }

  async append(
    streamId: string,
    events: EventToAppend[],
    expected: ExpectedRevision,
  ): Promise<Result<AppendSuccess, AppendError>> {
    if (this.closed) throw new Error('the event store is closed');
    const prepared = prepare({ streamId, events, expected });
    if (!prepared.ok) return err(prepared.error);
    const [outcome] = await this.committer.submit([{ streamId, expected, events: prepared.value }], false);
    return outcome!;
  }

  async appendMany(appends: AppendRequest[]): Promise<Result<AppendSuccess[], AppendError>> {
    if (this.closed) throw new Error('the event store is closed');
    const requests: PreparedAppend[] = [];
    const seen = new Set<string>();
    for (const a of appends) {
      if (seen.has(a.streamId))
        return err({
          code: 'INVALID_APPEND',
          streamId: a.streamId,
          message: 'a stream may appear only once in appendMany',
        });
      seen.add(a.streamId);
      const prepared = prepare(a);
      if (!prepared.ok) return err(prepared.error);
      requests.push({ streamId: a.streamId, expected: a.expected, events: prepared.value });
    }
    if (requests.length === 0) return ok([]);
    const outcomes = await this.committer.submit(requests, true);
    const failed = outcomes.find((o) => !o.ok);
    if (failed && !failed.ok)
      return err(
        outcomes.map((o) => (o.ok ? undefined : o.error)).find((e) => e && e.code !== 'INVALID_APPEND') ?? failed.error,
      );
    return ok(outcomes.map((o) => (o.ok ? o.value : (undefined as never))));
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { rows } = await this.options.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
      [streamId, options.fromRevision ?? 0, options.limit ?? 1_000_000],
    );
    return rows.map(toRecordedEvent);
  }

  async readStreams(streamIds: string[]): Promise<Map<string, RecordedEvent[]>> {
    const out = new Map<string, RecordedEvent[]>(streamIds.map((id) => [id, []]));
    if (streamIds.length === 0) return out;
    const { rows } = await this.options.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, revision`,
      [streamIds],
    );
    for (const row of rows) out.get(row.stream_id)!.push(toRecordedEvent(row));
    return out;
  }

  async streamRevisions(streamIds: string[]): Promise<Map<string, number>> {
    if (streamIds.length === 0) return new Map();
    // the streams table is the log's own (schema.ts): a stream's row moves with every append to it
    const { rows } = await this.options.pool.query<{ stream_id: string; revision: string }>({
      name: 'postlog_stream_revisions',
      text: 'SELECT stream_id, revision FROM streams WHERE stream_id = ANY($1::text[]) AND revision >= 0',
      values: [streamIds],
    });
    return new Map(rows.map((r) => [r.stream_id, Number(r.revision)]));
  }

  async readAll(from: Checkpoint, limit: number, filter: EventFilter = {}): Promise<ReadAllResult> {
    const cp = decodeCheckpoint(from);
    const params: unknown[] = [cp.transactionId, cp.position, limit];
    const where = [`(transaction_id, position) > ($1::text::xid8, $2::bigint)`, COMMITTED_ONLY];
    if (filter.types && filter.types.length > 0) {
      params.push(filter.types);
      where.push(`type = ANY($${params.length}::text[])`);
    }
    if (filter.streamPrefixes && filter.streamPrefixes.length > 0) {
      params.push(likePrefixPatterns(filter.streamPrefixes));
      where.push(`stream_id LIKE ANY($${params.length}::text[])`);
    }
    const filtered = where.length > 2;
    // filtered: the newest readable event too, in the same statement (so under the same snapshot and
    // horizon): when fewer than `limit` events match, no other matching one lies before it
    const { rows } = await this.options.pool.query<EventRow & { head_txid: string | null; head_position: number }>(
      filtered
        ? `WITH matched AS (SELECT ${EVENT_COLUMNS}, transaction_id AS tx FROM events WHERE ${where.join(' AND ')}
                            ORDER BY transaction_id, position LIMIT $3),
                head AS (SELECT transaction_id::text AS head_txid, position AS head_position FROM events
                          WHERE ${COMMITTED_ONLY} ORDER BY transaction_id DESC, position DESC LIMIT 1)
           SELECT matched.*, head.head_txid, head.head_position FROM head LEFT JOIN matched ON true
            ORDER BY matched.tx, matched.position`
        : `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY transaction_id, position LIMIT $3`,
      params,
    );
    const events = rows.filter((r) => r.event_id !== null).map(toRecordedEvent);
    this.recent.remember(from, limit, filter, events);
    const head = rows[0]?.head_txid;
    if (filtered && events.length < limit && head) {
      const skipTo = encodeCheckpoint(head, rows[0]!.head_position);
      // the head is never behind what the read returned; behind `from` only if `from` is past the head
      if (compareCheckpoints(skipTo, from) > 0) return { events, checkpoint: skipTo };
    }
    return { events, checkpoint: events.length > 0 ? events[events.length - 1]!.checkpoint : from };
  }

  async headCheckpoint(): Promise<Checkpoint> {
    const { rows } = await this.options.pool.query<{ txid: string; position: number }>(
      `SELECT transaction_id::text AS txid, position FROM events WHERE ${COMMITTED_ONLY}
       ORDER BY transaction_id DESC, position DESC LIMIT 1`,
    );
    const row = rows[0];
    return row ? encodeCheckpoint(row.txid, row.position) : START;
  }

  subscribeAll(options: SubscribeOptions, handler: BatchHandler): Subscription {
    if (this.closed) throw new Error('the event store is closed');
    const sub = new PollingSubscription({
      store: {
        // a subscription may get fewer events than are there (it reads again): it is served from
        // the events the process read last when it can. readAll answers in full, from the database.
        readAll: async (from, limit, filter) =>
          this.recent.read(from, limit, filter ?? {}) ?? this.readAll(from, limit, filter),
        headCheckpoint: () => this.headCheckpoint(),
      },
      notifications: this.notifications,
      from: options.from ?? START,
      batchSize: options.batchSize ?? 1000,
      ...(options.filter ? { filter: options.filter } : {}),
      pollIntervalMs: this.options.pollIntervalMs ?? 250,
      lingerMs: this.options.subscriptionLingerMs ?? DEFAULT_SUBSCRIPTION_LINGER_MS,
      handler,
      ...(options.onSkip ? { onSkip: options.onSkip } : {}),
      logger: this.options.logger,
    });
    this.subscriptions.add(sub);
    void sub.done.catch(() => undefined).finally(() => this.subscriptions.delete(sub));
    return sub;
  }

  async healthy(): Promise<boolean> {
    try {
      const { rows } = await this.options.pool.query<{ ro: string }>('SELECT current_setting($1) AS ro', [
        'transaction_read_only',
      ]);
      return rows[0]?.ro === 'off';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.committer.drain();
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.notifications.close();
  }
}
