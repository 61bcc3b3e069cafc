import { err, ok, type Result } from '../../../domain/result.js';
import type { PreparedAppend } from '../postgres/append-batch.js';
import {
  START,
  matchesEventFilter,
  type AppendError,
  type AppendSuccess,
  type Checkpoint,
  type EventFilter,
  type RecordedEvent,
} from '../port.js';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { decideAppend, type AppendDecision, type LogView } from './decide-append.js';

/** An event as the log keeps it: data and metadata as JSON text, so every read hands out a fresh copy. */
export interface StoredEvent {
  eventId: string;
  type: string;
  streamId: string;
  revision: number;
  /** 1-based index in the log. */
  position: number;
  /** The commit that wrote it (1, 2, …); the events of one append or appendMany share it. */
  transaction: number;
  recordedAt: number;
  schemaVersion: number;
  data: string;
  metadata: string;
}

export interface MemoryEventLogOptions {
  /** Stamps recordedAt, once per commit (default: the system clock). */
  clock?: () => Date;
  /**
   * Makes the id of an event appended without one; must return UUIDs. Default: a counter in the
   * UUIDv7 layout (00000000-0000-7000-8000-000000000001, …), the same on every run and increasing
   * as the other adapters' time-ordered ids do. Pass `() => uuidv7()` for real ones.
   */
  newEventId?: () => string;
}

/**
 * The shared state of an in-memory log: what a database would hold. Several MemoryEventStores on
 * one log behave as several processes on one database. Everything here is synchronous, so an
 * append is decided and committed with no other append in between: that is its isolation.
 */
export class MemoryEventLog implements LogView {
  readonly newEventId: () => string;
  private readonly clock: () => Date;
  private readonly events: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly byId = new Map<string, StoredEvent>();
  private readonly listeners = new Set<() => void>();
  private transactions = 0;

  constructor(options: MemoryEventLogOptions = {}) {
    this.clock = options.clock ?? (() => new Date());
    let generated = 0;
    const counted = () => `00000000-0000-7000-8000-${(++generated).toString(16).padStart(12, '0')}`;
    this.newEventId = options.newEventId ?? counted;
  }

  /** Events in the log; the position of the newest. */
  get length(): number {
    return this.events.length;
  }

  revisionOf(streamId: string): number {
    return (this.streams.get(streamId)?.length ?? 0) - 1;
  }

  eventById(eventId: string): StoredEvent | undefined {
    return this.byId.get(eventId);
  }

  stream(streamId: string): readonly StoredEvent[] {
    return this.streams.get(streamId) ?? [];
  }

  /**
   * Appends to one or more streams (each once) as one commit: all are written or, when one is
   * refused, none is and that first refusal is the answer. Retries (every id already in its
   * stream) succeed without writing, as in the Postgres adapter.
   */
  append(requests: PreparedAppend[]): Result<AppendSuccess[], AppendError> {
    const accepted: Exclude<AppendDecision, { kind: 'refused' }>[] = [];
    for (const request of requests) {
      const d = decideAppend(this, request);
      if (d.kind === 'refused') return err(d.error);
      accepted.push(d);
    }
    const writing = accepted.some((d) => d.kind === 'write');
    const transaction = writing ? ++this.transactions : 0;
    const recordedAt = writing ? this.clock().getTime() : 0;
    const results = accepted.map((d) =>
      d.kind === 'done' ? d.success : this.write(d.request, d.nextExpectedRevision, transaction, recordedAt),
    );
    if (writing) for (const listener of [...this.listeners]) listener();
    return ok(results);
  }

  private write(
    { streamId, events }: PreparedAppend,
    nextExpectedRevision: number,
    transaction: number,
    recordedAt: number,
  ): AppendSuccess {
    let stream = this.streams.get(streamId);
    if (!stream) this.streams.set(streamId, (stream = []));
    for (const e of events) {
      // every field named: a spread here made each append several times slower (V8 object shapes)
      const stored: StoredEvent = {
        eventId: e.eventId,
        type: e.type,
        streamId,
        revision: stream.length,
        position: this.events.length + 1,
        transaction,
        recordedAt,
        schemaVersion: e.schemaVersion,
        data: e.data,
        metadata: e.metadata,
      };
      this.events.push(stored);
      stream.push(stored);
      this.byId.set(stored.eventId, stored);
    }
    const position = this.events.length;
    return { nextExpectedRevision, position, checkpoint: encodeCheckpoint(transaction, position), idempotent: false };
  }

  /**
   * Up to `limit` events after `afterPosition` that pass the filter, in log order, and the
   * position scanned up to (where the next scan may start: nothing skipped before it matched).
   */
  scan(afterPosition: number, limit: number, filter?: EventFilter): { events: StoredEvent[]; scannedTo: number } {
    const out: StoredEvent[] = [];
    let i = afterPosition;
    for (; i < this.events.length && out.length < limit; i++) {
      const e = this.events[i]!;
      if (matchesEventFilter(e, filter)) out.push(e);
    }
    return { events: out, scannedTo: i };
  }

  /** The checkpoint of the event at `position` (1-based, as positions are). */
  checkpointAt(position: number): Checkpoint {
    const e = this.events[position - 1];
    return e ? encodeCheckpoint(e.transaction, e.position) : START;
  }

  headCheckpoint(): Checkpoint {
    const last = this.events[this.events.length - 1];
    return last ? encodeCheckpoint(last.transaction, last.position) : START;
  }

  /** The position a checkpoint of this log stands for; a checkpoint of another log is refused. */
  positionOf(checkpoint: Checkpoint): number {
    const { transaction, position } = decodeCheckpoint(checkpoint);
    if (position === 0 && transaction === 0) return 0;
    const e = this.events[position - 1];
    if (!e || e.transaction !== transaction) {
      const log = `this in-memory log (${this.events.length} events)`;
      throw new Error(`checkpoint ${JSON.stringify(checkpoint)} is not one of ${log}`);
    }
    return position;
  }

  /** Calls `listener` after every commit that wrote events; returns the unsubscribe function. */
  onCommit(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function toRecordedEvent(e: StoredEvent): RecordedEvent {
  return {
    eventId: e.eventId,
    type: e.type,
    streamId: e.streamId,
    revision: e.revision,
    position: e.position,
    checkpoint: encodeCheckpoint(e.transaction, e.position),
    recordedAt: new Date(e.recordedAt),
    schemaVersion: e.schemaVersion,
    data: JSON.parse(e.data) as unknown,
    metadata: JSON.parse(e.metadata) as RecordedEvent['metadata'],
  };
}
