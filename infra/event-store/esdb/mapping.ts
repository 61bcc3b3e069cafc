import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  eventTypeFilter,
  excludeSystemEvents,
  streamNameFilter,
  type AppendStreamState,
  type CurrentStreamState,
  type Filter,
  type Position,
} from '@kurrent/kurrentdb-client';
import {
  EventMetadata,
  START,
  matchesEventFilter,
  type AppendError,
  type Checkpoint,
  type EventFilter,
  type ExpectedRevision,
  type RecordedEvent,
} from '../port.js';

/**
 * Pure translation between the event-store port and KurrentDB/EventStoreDB: checkpoints,
 * positions, revisions, metadata, filters and errors. No I/O here, so unit tests cover all of
 * it without a server (test/unit/esdb-mapping.test.ts).
 */

// ---------------------------------------------------------------- checkpoints and positions

/**
 * A checkpoint is the event's $all position, "commit:prepare" in decimal. Both halves are kept
 * because $all is ordered by the pair; the text form is the same shape as the Postgres adapter's
 * "transaction:position", so the shared compareCheckpoints orders both.
 */
export function encodeCheckpoint(position: Position): Checkpoint {
  return `${position.commit}:${position.prepare}`;
}

/** START stays 'start' (the client's START constant is the same word). */
export function decodeCheckpoint(checkpoint: Checkpoint): Position | 'start' {
  if (checkpoint === START) return 'start';
  const match = /^(\d+):(\d+)$/.exec(checkpoint);
  if (!match)
    throw new Error(`not an EventStoreDB checkpoint: ${JSON.stringify(checkpoint)} (expected "commit:prepare")`);
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
}

/** Negative when a comes first in $all, 0 when equal; START is before everything. */
export function compareEsdbCheckpoints(a: Checkpoint, b: Checkpoint): number {
  const x = decodeCheckpoint(a);
  const y = decodeCheckpoint(b);
  if (x === 'start' || y === 'start') return x === y ? 0 : x === 'start' ? -1 : 1;
  if (x.commit !== y.commit) return x.commit < y.commit ? -1 : 1;
  if (x.prepare !== y.prepare) return x.prepare < y.prepare ? -1 : 1;
  return 0;
}

/**
 * The port's numeric `position`: the prepare position, i.e. the byte offset of the event's own
 * record in the transaction log. Unlike the commit position (shared by every event of one
 * multi-event write on servers that still write commit records), it is unique per event, and for
 * the implicit transactions this adapter writes it increases in $all order. It is a byte offset,
 * so it is not dense: lag "in events" is counted, not subtracted (see projectionStatus). 2^53
 * bytes is 8 PiB of log; beyond that we refuse rather than lose precision.
 */
export function positionNumber(position: Position): number {
  if (position.prepare > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`EventStoreDB prepare position ${position.prepare} exceeds 2^53: it cannot be a JavaScript number`);
  }
  return Number(position.prepare);
}

// ---------------------------------------------------------------- revisions

/** Our ExpectedRevision → the client's stream state. Stream revisions are 0-based in both. */
export function toStreamState(expected: ExpectedRevision): AppendStreamState {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'any':
      return ANY;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      if (!Number.isSafeInteger(expected) || expected < 0)
        throw new RangeError(`expected revision must be a whole number ≥ 0, got ${expected}`);
      return BigInt(expected);
  }
}

/** The server's current stream state → our `actual` (deleted/tombstoned streams report negatives: no stream). */
export function fromCurrentState(actual: CurrentStreamState | undefined): number | 'no_stream' {
  if (actual === undefined || actual === NO_STREAM || typeof actual !== 'bigint' || actual < 0n) return 'no_stream';
  return revisionNumber(actual);
}

export function revisionNumber(revision: bigint): number {
  if (revision > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`stream revision ${revision} exceeds 2^53`);
  return Number(revision);
}

// ---------------------------------------------------------------- errors

/** The `type` of the client's command errors this adapter turns into values (ErrorType in the client). */
interface CommandErrorLike {
  type: string;
  message?: string;
  actualState?: CurrentStreamState;
  streamName?: string;
  maxAppendSize?: number;
}

const isCommandError = (e: unknown): e is CommandErrorLike =>
  typeof e === 'object' && e !== null && typeof (e as { type?: unknown }).type === 'string';

/**
 * A client error → the port's AppendError, or undefined for failures that are not about the
 * append itself (server unavailable, access denied, timeouts): those are thrown, as the Postgres
 * adapter throws when its database is down.
 */
export function translateAppendError(
  error: unknown,
  streamId: string,
  expected: ExpectedRevision,
): AppendError | undefined {
  if (!isCommandError(error)) return undefined;
  const stream = error.streamName && error.streamName.length > 0 ? error.streamName : streamId;
  switch (error.type) {
    case 'wrong-expected-version':
      return {
        code: 'WRONG_EXPECTED_REVISION',
        streamId: stream,
        expected,
        actual: fromCurrentState(error.actualState),
      };
    case 'stream-deleted':
    case 'stream-tombstoned':
      return {
        code: 'INVALID_APPEND',
        streamId: stream,
        message: 'the stream was deleted in EventStoreDB and cannot be written to',
      };
    case 'maximum-append-size-exceeded':
    case 'append-record-size-exceeded':
    case 'transaction-max-size-exceeded':
      return {
        code: 'INVALID_APPEND',
        streamId: stream,
        message: `the append is larger than the EventStoreDB server accepts${error.maxAppendSize ? ` (${error.maxAppendSize} bytes)` : ''}: raise its MaxAppendSize setting`,
      };
    case 'unsupported':
      return {
        code: 'ATOMIC_APPEND_UNSUPPORTED',
        streamId: stream,
        message:
          'this EventStoreDB server cannot append to several streams atomically: KurrentDB 25.1 or later is needed for messages to several recipients',
      };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- metadata

/**
 * Event metadata on the server is a flat object of strings: multi-stream appends (KurrentDB ≥
 * 25.1) accept nothing else, and one format for every write keeps reading simple. Our envelope
 * fields that ESDB has no place for travel in it.
 */
export const SCHEMA_VERSION_KEY = 'postlog.schemaVersion';
export const METADATA_KEY = 'postlog.metadata';

export function encodeEventMetadata(schemaVersion: number, metadata: EventMetadata): Record<string, string> {
  return { [SCHEMA_VERSION_KEY]: String(schemaVersion), [METADATA_KEY]: JSON.stringify(metadata) };
}

/** Tolerant: events written by other tools (no postlog keys) read as schema version 1 with their metadata object. */
export function decodeEventMetadata(raw: unknown): { schemaVersion: number; metadata: EventMetadata } {
  if (typeof raw !== 'object' || raw === null || raw instanceof Uint8Array || Array.isArray(raw))
    return { schemaVersion: 1, metadata: {} };
  const record = raw as Record<string, unknown>;
  const version = Number(record[SCHEMA_VERSION_KEY]);
  const schemaVersion = Number.isInteger(version) && version >= 1 ? version : 1;
  let metadata: unknown = record;
  if (typeof record[METADATA_KEY] === 'string') {
    try {
      metadata = JSON.parse(record[METADATA_KEY]);
    } catch {
      metadata = {};
    }
  }
  const parsed = EventMetadata.safeParse(metadata);
  return { schemaVersion, metadata: parsed.success ? parsed.data : {} };
}

// ---------------------------------------------------------------- filters

/**
 * The server-side $all filter for a port filter. The server filters on stream name OR event type,
 * not both: stream prefixes win (they are the selective part of our filters, e.g. "message-");
 * types are then checked here (matchesFilter). Without a filter, system events are excluded.
 */
export function serverFilter(filter: EventFilter | undefined): Filter {
  if (filter?.streamPrefixes && filter.streamPrefixes.length > 0)
    return streamNameFilter({ prefixes: [...filter.streamPrefixes] });
  if (filter?.types && filter.types.length > 0)
    return eventTypeFilter({ regex: `^(?:${filter.types.map(escapeRegex).join('|')})$` });
  return excludeSystemEvents();
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The exact filter, applied to what the server sent: also drops system events ($-prefixed types or streams). */
export function matchesFilter(event: { streamId: string; type: string }, filter: EventFilter | undefined): boolean {
  if (event.type.startsWith('$') || event.streamId.startsWith('$')) return false;
  return matchesEventFilter(event, filter);
}

// ---------------------------------------------------------------- idempotent appends

/**
 * Where a retried append's events would be, given what the caller expected: right after the
 * expected revision, or (for any/stream_exists, where the server itself only does best effort)
 * within the stream's newest `window` events.
 */
export function idempotencyWindow(
  expected: ExpectedRevision,
  count: number,
  window = 256,
): { direction: 'forwards' | 'backwards'; fromRevision: bigint | 'start' | 'end'; maxCount: number } {
  if (expected === 'no_stream') return { direction: 'forwards', fromRevision: 'start', maxCount: count };
  if (typeof expected === 'number')
    return { direction: 'forwards', fromRevision: BigInt(expected + 1), maxCount: count };
  return { direction: 'backwards', fromRevision: 'end', maxCount: count + window };
}

export interface StoredId {
  eventId: string;
  revision: number;
  position: number;
  checkpoint: Checkpoint;
}

export type RetryCheck = { kind: 'none' } | { kind: 'all'; last: StoredId } | { kind: 'partial'; eventId: string };

/**
 * The port's rule: appending the same event ids again is a no-op; a mix of new and already
 * stored ids is a DUPLICATE_EVENT_ID (the Postgres adapter refuses it the same way).
 */
export function classifyRetry(requestedIds: string[], stored: StoredId[]): RetryCheck {
  const byId = new Map(stored.map((s) => [s.eventId, s]));
  const found = requestedIds.map((id) => byId.get(id));
  if (found.every((f) => f === undefined)) return { kind: 'none' };
  const missing = requestedIds.findIndex((_, i) => found[i] === undefined);
  if (missing >= 0) return { kind: 'partial', eventId: requestedIds.find((_, i) => found[i] !== undefined)! };
  const last = found.reduce((a, b) => (b!.revision > a!.revision ? b : a))!;
  return { kind: 'all', last };
}

// ---------------------------------------------------------------- recorded events

/** The fields of the client's recorded event this adapter reads. */
export interface ServerRecord {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  created: Date;
  isJson: boolean;
  data: unknown;
  metadata: unknown;
  position?: Position;
}

/**
 * A server record → the port's RecordedEvent. Binary data (written by other tools) is parsed as
 * JSON when it is JSON, else kept as base64 text. `fallback` is the position to use when the
 * server sent none (stream reads on some versions): the port needs a number.
 */
export function toRecordedEvent(record: ServerRecord, fallback?: Position): RecordedEvent {
  const position = record.position ?? fallback;
  const { schemaVersion, metadata } = decodeEventMetadata(record.metadata);
  return {
    eventId: record.id,
    type: record.type,
    streamId: record.streamId,
    revision: revisionNumber(record.revision),
    position: position ? positionNumber(position) : 0,
    checkpoint: position ? encodeCheckpoint(position) : START,
    recordedAt: record.created,
    schemaVersion,
    data: record.isJson ? record.data : binaryData(record.data),
    metadata,
  };
}

function binaryData(data: unknown): unknown {
  if (!(data instanceof Uint8Array)) return data;
  const text = Buffer.from(data).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return Buffer.from(data).toString('base64');
  }
}

// ---------------------------------------------------------------- paging $all

/** One server read of $all from a position (inclusive on the server), at most `count` records. */
export type PageReader = (from: Checkpoint, count: number) => AsyncIterable<RecordedEvent | undefined>;

/**
 * readAll's paging: up to `limit` events strictly after `from` that match the filter. The server
 * filters on one of stream name or type, so a page can hold nothing that matches the whole filter
 * while more of the log follows: an empty answer must mean the end of the log, so we read on until
 * `limit` matches or a short page (the end). Undefined records (links to deleted events) are skipped.
 */
export async function readMatching(
  readPage: PageReader,
  from: Checkpoint,
  limit: number,
  filter: EventFilter | undefined,
): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let cursor = from;
  for (;;) {
    let records = 0;
    let advanced = false;
    for await (const e of readPage(cursor, limit + 1)) {
      records++;
      if (!e || compareEsdbCheckpoints(e.checkpoint, cursor) <= 0) continue;
      cursor = e.checkpoint;
      advanced = true;
      if (!matchesFilter(e, filter)) continue;
      events.push(e);
      if (events.length === limit) return events;
    }
    if (records < limit + 1 || !advanced) return events;
  }
}
