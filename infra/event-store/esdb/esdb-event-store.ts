import {
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  START as CLIENT_START,
  excludeSystemEvents,
  jsonEvent,
  type AllStreamResolvedEvent,
  type AppendStreamRequest,
  type EventData,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
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
import { prepare, type AppendRequest, type ParsedEvent } from '../postgres/append-batch.js';
import {
  classifyRetry,
  decodeCheckpoint,
  encodeCheckpoint,
  encodeEventMetadata,
  idempotencyWindow,
  positionNumber,
  readMatching,
  revisionNumber,
  serverFilter,
  toRecordedEvent,
  toStreamState,
  translateAppendError,
  type ServerRecord,
} from './mapping.js';
import { EsdbSubscription } from './subscription.js';

export interface EsdbEventStoreOptions {
  /** kurrentdb://… or esdb://… connection string (POSTLOG_ESDB_URL). */
  url: string;
  logger: Logger;
  /** First wait before resubscribing a dropped subscription (doubles up to maxResubscribeMs). */
  resubscribeMs?: number;
  maxResubscribeMs?: number;
  onAppend?: (events: number, ms: number) => void;
  onResubscribe?: (error: Error) => void;
}

/** The client warns that esdb:// is deprecated on every connection: same meaning, new name. */
export const normaliseConnectionString = (url: string) => url.replace(/^esdb(\+discover)?:\/\//, 'kurrentdb$1://');

interface PreparedRequest {
  streamId: string;
  expected: ExpectedRevision;
  events: ParsedEvent[];
  /** Whether the caller chose any of the ids (only then can this be a retry). */
  callerIds: boolean;
}

/**
 * The event log in KurrentDB/EventStoreDB. Read models, the queue and checkpoints stay in
 * PostgreSQL: a projection still commits its rows and its checkpoint (an opaque $all position)
 * in one Postgres transaction, so exactly-once holds whichever log feeds it.
 *
 * Differences from the Postgres adapter, by design of the server (README "Scaling out"):
 * event ids are unique per stream, not across the log; appendMany is atomic only on servers with
 * multi-stream appends (KurrentDB ≥ 25.1), elsewhere it answers ATOMIC_APPEND_UNSUPPORTED.
 */
export class EsdbEventStore implements EventStore {
  readonly client: KurrentDBClient;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly subscriptions = new Set<EsdbSubscription>();
  private closed = false;

  constructor(private readonly o: EsdbEventStoreOptions) {
    this.client = KurrentDBClient.connectionString(normaliseConnectionString(o.url));
  }

  append(
    streamId: string,
    events: EventToAppend[],
    expected: ExpectedRevision,
  ): Promise<Result<AppendSuccess, AppendError>> {
    return this.track(async () => {
      const request = prepareRequest({ streamId, events, expected });
      if (!request.ok) return request;
      return this.appendOne(request.value);
    });
  }

  appendMany(appends: AppendRequest[]): Promise<Result<AppendSuccess[], AppendError>> {
    return this.track(async () => {
      const requests: PreparedRequest[] = [];
      const seen = new Set<string>();
      for (const a of appends) {
        if (seen.has(a.streamId))
          return err({
            code: 'INVALID_APPEND',
            streamId: a.streamId,
            message: 'a stream may appear only once in appendMany',
          });
        seen.add(a.streamId);
        const prepared = prepareRequest(a);
        if (!prepared.ok) return prepared;
        requests.push(prepared.value);
      }
      if (requests.length === 0) return ok([]);
      if (requests.length === 1) {
        const one = await this.appendOne(requests[0]!);
        return one.ok ? ok([one.value]) : one;
      }
      return this.appendAtomically(requests);
    });
  }

  private async appendOne(request: PreparedRequest): Promise<Result<AppendSuccess, AppendError>> {
    const { streamId, expected, events } = request;
    if (request.callerIds) {
      const retry = await this.checkRetry(request);
      if (retry) return retry;
    }
    const started = performance.now();
    try {
      const result = await this.client.appendToStream(streamId, events.map(toEventData), {
        streamState: toStreamState(expected),
      });
      this.o.onAppend?.(events.length, performance.now() - started);
      if (!result.position) throw new Error(`EventStoreDB answered an append to ${streamId} without a position`);
      return ok({
        nextExpectedRevision: revisionNumber(result.nextExpectedRevision),
        position: positionNumber(result.position),
        checkpoint: encodeCheckpoint(result.position),
        idempotent: false,
      });
    } catch (e) {
      const error = translateAppendError(e, streamId, expected);
      if (!error) throw e;
      // a concurrent retry of the same append got there first
      if (error.code === 'WRONG_EXPECTED_REVISION' && request.callerIds) {
        const retry = await this.checkRetry(request);
        if (retry) return retry;
      }
      return err(error);
    }
  }

  /** One multi-stream append: all streams or none (KurrentDB ≥ 25.1). */
  private async appendAtomically(requests: PreparedRequest[]): Promise<Result<AppendSuccess[], AppendError>> {
    const callerIds = requests.some((r) => r.callerIds);
    if (callerIds) {
      const retry = await this.checkRetryOfMany(requests);
      if (retry) return retry;
    }
    const body: AppendStreamRequest[] = requests.map((r) => ({
      streamName: r.streamId,
      events: r.events.map(toEventData),
      expectedState: toStreamState(r.expected),
    }));
    const started = performance.now();
    try {
      const result = await this.client.multiStreamAppend(body);
      this.o.onAppend?.(
        requests.reduce((n, r) => n + r.events.length, 0),
        performance.now() - started,
      );
      // the server answers one log position for the whole transaction
      const at = { commit: result.position, prepare: result.position };
      const revisions = new Map(result.responses.map((r) => [r.streamName, r.revision]));
      return ok(
        requests.map((r) => {
          const revision = revisions.get(r.streamId);
          if (revision === undefined)
            throw new Error(`KurrentDB confirmed a multi-stream append without the revision of ${r.streamId}`);
          return {
            nextExpectedRevision: revisionNumber(revision),
            position: positionNumber(at),
            checkpoint: encodeCheckpoint(at),
            idempotent: false,
          };
        }),
      );
    } catch (e) {
      const streamId = (e as { streamName?: string }).streamName ?? requests[0]!.streamId;
      const expected = requests.find((r) => r.streamId === streamId)?.expected ?? requests[0]!.expected;
      const error = translateAppendError(e, streamId, expected);
      if (!error) throw e;
      // a concurrent retry of the same append got there first
      if (error.code === 'WRONG_EXPECTED_REVISION' && callerIds) {
        const retry = await this.checkRetryOfMany(requests);
        if (retry) return retry;
      }
      return err(error);
    }
  }

  /** checkRetry for every stream of a multi-stream append: it was stored whole or not at all. */
  private async checkRetryOfMany(
    requests: PreparedRequest[],
  ): Promise<Result<AppendSuccess[], AppendError> | undefined> {
    const checks = await Promise.all(requests.map((r) => this.checkRetry(r)));
    if (checks.every((c) => c?.ok)) return ok(checks.map((c) => (c as { value: AppendSuccess }).value));
    const refused = checks.find((c) => c && !c.ok);
    if (refused && !refused.ok) return refused;
    // some streams hold the ids and others do not: that stored append was not this one
    const partial = checks.findIndex((c) => c?.ok);
    if (partial >= 0) {
      const r = requests[partial]!;
      return err({
        code: 'DUPLICATE_EVENT_ID',
        streamId: r.streamId,
        eventId: r.events[0]!.eventId,
        message: 'these event ids are already in the log, but not for every stream of this append',
      });
    }
    return undefined;
  }

  /**
   * Whether this append is a retry of one already stored: the ids are looked for where the append
   * would have put them. All there: success, nothing written. Some there: DUPLICATE_EVENT_ID.
   */
  private async checkRetry(request: PreparedRequest): Promise<Result<AppendSuccess, AppendError> | undefined> {
    const window = idempotencyWindow(request.expected, request.events.length);
    const stored = await this.readRaw(request.streamId, {
      direction: window.direction === 'forwards' ? FORWARDS : BACKWARDS,
      fromRevision:
        window.fromRevision === 'start' ? CLIENT_START : window.fromRevision === 'end' ? END : window.fromRevision,
      maxCount: window.maxCount,
    });
    const check = classifyRetry(
      request.events.map((e) => e.eventId),
      stored,
    );
    if (check.kind === 'none') return undefined;
    if (check.kind === 'partial') {
      return err({
        code: 'DUPLICATE_EVENT_ID',
        streamId: request.streamId,
        eventId: check.eventId,
        message: `event ${check.eventId} is already in stream ${request.streamId}, but not every event of this append is`,
      });
    }
    return ok({
      nextExpectedRevision: check.last.revision,
      position: check.last.position,
      checkpoint: check.last.checkpoint,
      idempotent: true,
    });
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    return this.readRaw(streamId, {
      direction: FORWARDS,
      fromRevision: options.fromRevision ? BigInt(options.fromRevision) : CLIENT_START,
      maxCount: options.limit ?? Number.MAX_SAFE_INTEGER,
    });
  }

  private async readRaw(
    streamId: string,
    options: {
      direction: typeof FORWARDS | typeof BACKWARDS;
      fromRevision: bigint | typeof CLIENT_START | typeof END;
      maxCount: number;
    },
  ): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamId, options) as AsyncIterable<ResolvedEvent>) {
        const e = recordOf(resolved);
        if (e) out.push(e);
      }
    } catch (e) {
      if ((e as { type?: string }).type === 'stream-not-found') return [];
      throw e;
    }
    return options.direction === BACKWARDS ? out.reverse() : out;
  }

  async readStreams(streamIds: string[]): Promise<Map<string, RecordedEvent[]>> {
    const out = new Map<string, RecordedEvent[]>();
    // the server has no multi-stream read: a few at a time keeps many-recipient batches quick
    for (let i = 0; i < streamIds.length; i += 16) {
      const chunk = streamIds.slice(i, i + 16);
      const read = await Promise.all(chunk.map((id) => this.readStream(id)));
      chunk.forEach((id, j) => out.set(id, read[j]!));
    }
    return out;
  }

  async streamRevisions(streamIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    // the last event of each, read backwards from the end, a few streams at a time (as readStreams)
    for (let i = 0; i < streamIds.length; i += 16) {
      const chunk = streamIds.slice(i, i + 16);
      const last = await Promise.all(
        chunk.map((id) => this.readRaw(id, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })),
      );
      chunk.forEach((id, j) => {
        const e = last[j]![0];
        if (e) out.set(id, e.revision);
      });
    }
    return out;
  }

  async readAll(from: Checkpoint, limit: number, filter?: EventFilter): Promise<ReadAllResult> {
    const client = this.client;
    const server = serverFilter(filter);
    async function* page(cursor: Checkpoint, count: number): AsyncIterable<RecordedEvent | undefined> {
      const position = decodeCheckpoint(cursor);
      const read = client.readAll({
        fromPosition: position === 'start' ? CLIENT_START : position,
        maxCount: count,
        direction: FORWARDS,
        filter: server,
      });
      for await (const resolved of read as AsyncIterable<AllStreamResolvedEvent>)
        yield resolved.event ? toRecordedEvent(resolved.event) : undefined;
    }
    const events = await readMatching(page, from, limit, filter);
    return { events, checkpoint: events.length > 0 ? events[events.length - 1]!.checkpoint : from };
  }

  subscribeAll(options: SubscribeOptions, handler: BatchHandler): Subscription {
    if (this.closed) throw new Error('the event store is closed');
    const sub = new EsdbSubscription({
      open: (fromPosition, filter, highWaterMark) =>
        this.client.subscribeToAll({ fromPosition, filter }, { highWaterMark }),
      from: options.from ?? START,
      ...(options.filter ? { filter: options.filter } : {}),
      batchSize: options.batchSize ?? 1000,
      handler,
      logger: this.o.logger,
      head: () => this.headCheckpoint(),
      initialRetryMs: this.o.resubscribeMs ?? 500,
      maxRetryMs: this.o.maxResubscribeMs ?? 30_000,
      ...(this.o.onResubscribe ? { onResubscribe: this.o.onResubscribe } : {}),
    });
    this.subscriptions.add(sub);
    void sub.done.catch(() => undefined).finally(() => this.subscriptions.delete(sub));
    return sub;
  }

  async headCheckpoint(): Promise<Checkpoint> {
    for await (const resolved of this.client.readAll({
      fromPosition: END,
      direction: BACKWARDS,
      maxCount: 1,
      filter: excludeSystemEvents(),
    }) as AsyncIterable<AllStreamResolvedEvent>) {
      if (resolved.event) return encodeCheckpoint(resolved.event.position);
    }
    return START;
  }

  /** An append could be committed now: the leader answers a read that requires it. */
  async healthy(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const probe = (async () => {
        for await (const _ of this.client.readAll({
          fromPosition: END,
          direction: BACKWARDS,
          maxCount: 1,
          requiresLeader: true,
        }))
          break;
      })();
      // the client's reads take no deadline: a server that does not answer is not healthy either
      const timeout = new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error('EventStoreDB did not answer within 2 s')), 2000)),
      );
      probe.catch(() => undefined);
      await Promise.race([probe, timeout]);
      return !this.closed;
    } catch (e) {
      const error = e as Error;
      this.o.logger.warn(
        { error: error.message || error.name, type: (e as { type?: string }).type },
        'EventStoreDB health check failed',
      );
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.client.dispose();
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the event store is closed'));
    const p = work();
    this.inFlight.add(p);
    void p.catch(() => undefined).finally(() => this.inFlight.delete(p));
    return p;
  }
}

function prepareRequest(request: AppendRequest): Result<PreparedRequest, AppendError> {
  const prepared = prepare(request);
  if (!prepared.ok) return prepared;
  if (typeof request.expected === 'number' && (!Number.isSafeInteger(request.expected) || request.expected < 0)) {
    return err({
      code: 'INVALID_APPEND',
      streamId: request.streamId,
      message: `expected revision must be a whole number ≥ 0, got ${request.expected}`,
    });
  }
  return ok({
    streamId: request.streamId,
    expected: request.expected,
    events: prepared.value,
    callerIds: request.events.some((e) => e.eventId !== undefined),
  });
}

function toEventData(e: ParsedEvent): EventData {
  return jsonEvent({
    id: e.eventId,
    type: e.type,
    data: JSON.parse(e.data),
    metadata: encodeEventMetadata(e.schemaVersion, JSON.parse(e.metadata)),
  });
}

function recordOf(resolved: ResolvedEvent): RecordedEvent | undefined {
  if (!resolved.event) return undefined;
  const fallback =
    resolved.commitPosition !== undefined
      ? { commit: resolved.commitPosition, prepare: resolved.commitPosition }
      : undefined;
  return toRecordedEvent(resolved.event as ServerRecord, fallback);
}
