import { z } from 'zod';
import type { Result } from '../../domain/result.js';

/**
 * The event log port. Adapters: Postgres (default, embedded or external) and EventStoreDB/KurrentDB (esdb/).
 * Every adapter must pass test/contract/event-store.contract.ts.
 */

/** What the caller believes about the stream before appending. */
export type ExpectedRevision = 'no_stream' | 'any' | 'stream_exists' | number;

export const EventMetadata = z
  .object({
    correlationId: z.string().optional(),
    causationId: z.string().optional(),
    serverId: z.string().optional(),
    actor: z.string().optional(),
  })
  .catchall(z.unknown());
export type EventMetadata = z.infer<typeof EventMetadata>;

export const EventToAppend = z.object({
  /** UUIDv7; generated when absent. Appending the same ids again is a no-op (idempotent append). */
  eventId: z.uuid().optional(),
  type: z.string().min(1).max(200),
  schemaVersion: z.number().int().min(1).default(1),
  data: z.unknown(),
  metadata: EventMetadata.default({}),
});
export type EventToAppend = z.input<typeof EventToAppend>;

/**
 * A position in the global log, opaque to callers. Compare only through the store; store it as a
 * string. START is before the first event.
 */
export type Checkpoint = string;
export const START: Checkpoint = 'start';

export interface RecordedEvent {
  eventId: string;
  type: string;
  streamId: string;
  /** 0-based, gap-free, per stream. */
  revision: number;
  /** Global sequence number: unique, increasing in the order events were written. */
  position: number;
  /** Resume token for readAll/subscribeAll: events come in commit-safe checkpoint order. */
  checkpoint: Checkpoint;
  recordedAt: Date;
  schemaVersion: number;
  data: unknown;
  metadata: EventMetadata;
}

export interface AppendSuccess {
  /** The stream's revision after the append: pass it as expectedRevision next time. */
  nextExpectedRevision: number;
  /** Position of the last event written. */
  position: number;
  checkpoint: Checkpoint;
  /** True when every event id was already in the stream: nothing new was written. */
  idempotent: boolean;
}

export type AppendError =
  | { code: 'WRONG_EXPECTED_REVISION'; streamId: string; expected: ExpectedRevision; actual: number | 'no_stream' }
  | { code: 'DUPLICATE_EVENT_ID'; streamId: string; eventId: string; message: string }
  | { code: 'INVALID_APPEND'; streamId: string; message: string }
  /** appendMany on a log that cannot write several streams atomically (EventStoreDB before KurrentDB 25.1). */
  | { code: 'ATOMIC_APPEND_UNSUPPORTED'; streamId: string; message: string };

export interface ReadStreamOptions {
  fromRevision?: number;
  limit?: number;
}

export interface EventFilter {
  /** Only events whose stream id starts with one of these (e.g. "message-"). */
  streamPrefixes?: string[];
  /** Only events of these types. */
  types?: string[];
}

/** Whether an event passes a filter (an empty list filters nothing), as every adapter's read applies it. */
export function matchesEventFilter(
  event: { streamId: string; type: string },
  filter: EventFilter | undefined,
): boolean {
  if (
    filter?.streamPrefixes &&
    filter.streamPrefixes.length > 0 &&
    !filter.streamPrefixes.some((p) => event.streamId.startsWith(p))
  )
    return false;
  if (filter?.types && filter.types.length > 0 && !filter.types.includes(event.type)) return false;
  return true;
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /**
   * Where to continue reading: after the last event returned, or, for a filtered read that came back
   * short, after every event it looked through (none of the others matched). Without that a reader of
   * rare events (inbound mail's streams) would look through the whole log after its last one on
   * every read, a longer look each time.
   */
  checkpoint: Checkpoint;
}

export interface SubscribeOptions {
  /** Exclusive start; START (default) for the whole log, 'end' for new events only. */
  from?: Checkpoint | 'end';
  filter?: EventFilter;
  batchSize?: number;
  /**
   * Called when the subscription moved past events its filter does not take and has no batch to
   * hand over: a subscriber that stores its checkpoint may store this one (`position` is its place
   * in the log, as RecordedEvent.position). Adapters that cannot tell never call it.
   */
  onSkip?: (to: { checkpoint: Checkpoint; position: number }) => Promise<void> | void;
}

export interface Subscription {
  /** Stops after the batch being handled. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: rejects with the handler's error if it threw. */
  readonly done: Promise<void>;
  /** The checkpoint after the last batch handled. */
  readonly checkpoint: Checkpoint;
}

export type BatchHandler = (events: RecordedEvent[]) => Promise<void> | void;

export interface EventStore {
  append(
    streamId: string,
    events: EventToAppend[],
    expected: ExpectedRevision,
  ): Promise<Result<AppendSuccess, AppendError>>;
  /** Appends to several streams atomically: all commit or none does (one error is returned). */
  appendMany(
    appends: { streamId: string; events: EventToAppend[]; expected: ExpectedRevision }[],
  ): Promise<Result<AppendSuccess[], AppendError>>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Several whole streams at once (e.g. every message of an SMTP connection). */
  readStreams(streamIds: string[]): Promise<Map<string, RecordedEvent[]>>;
  /**
   * The revision of each stream's last event, without reading the events (the MTA checks that what
   * the delivery queue folded is still the whole stream); a stream without events is left out.
   */
  streamRevisions(streamIds: string[]): Promise<Map<string, number>>;
  /** Events after `from` in commit-safe order: nothing still being written can later appear before them. */
  readAll(from: Checkpoint, limit: number, filter?: EventFilter): Promise<ReadAllResult>;
  /** Catch-up from `from`, then live. The handler sees each event exactly once, in readAll order. */
  subscribeAll(options: SubscribeOptions, handler: BatchHandler): Subscription;
  /** The checkpoint of the newest readable event (START when empty). */
  headCheckpoint(): Promise<Checkpoint>;
  /** True when an append could be committed now. */
  healthy(): Promise<boolean>;
  /** Waits for in-flight appends, then releases resources. */
  close(): Promise<void>;
}
