import {
  matchesEventFilter,
  type Checkpoint,
  type EventFilter,
  type ReadAllResult,
  type RecordedEvent,
} from '../port.js';

/**
 * The stretches of the log this process read last, kept for the other readers of the process.
 *
 * A worker runs several projections, each its own subscription to the log; caught up, they all
 * read the same new events moments apart. Each read is a query and every row is parsed again
 * (ids, positions, dates, the JSON of data and metadata), per projection: about five times per
 * event. Here the first reader's rows serve the others.
 *
 * Only subscriptions are served from here: they may get fewer events than there are (they read
 * again), while readAll promises as many as the limit allows.
 *
 * Served from here is always a true prefix of the log after the reader's checkpoint: a stretch
 * holds every event of its streams after its start, in checkpoint order, as reads saw them, and
 * the part of the log a read has seen never changes (it only grows past the stretch's end). A
 * reader past a stretch's end, or behind its start, reads from the database, and a read that
 * continues a stretch extends it. The events are shared between readers: they must treat them
 * as read-only (they all do: events are decoded into new objects before use).
 *
 * One stretch per set of stream prefixes read (all streams, "message-", …), so that readers of
 * different streams do not keep replacing each other's.
 */
export class RecentEvents {
  private readonly stretches = new Map<string, Stretch>();

  constructor(private readonly capacity = 5000) {}

  /**
   * Up to `limit` events after `from` that match `filter`, from a stretch; undefined when the
   * database has to answer: no stretch reaches past `from`, nothing after it matches (an empty
   * answer would make the reader wait as if it had caught up), or the answer would be short while
   * the stretch had not reached the head of the log (a short answer tells a catching-up reader to
   * pause and stop reading ahead).
   */
  read(from: Checkpoint, limit: number, filter: EventFilter): ReadAllResult | undefined {
    // a stretch of some streams serves readers of exactly those; the stretch of all streams, anyone
    const key = prefixKey(filter);
    return (
      (key !== '' ? this.stretches.get(key)?.read(from, limit, filter) : undefined) ??
      this.stretches.get('')?.read(from, limit, filter)
    );
  }

  /**
   * Keeps what a read of up to `limit` events from `from` returned. Only a read of whole streams
   * (no type filter) has every event of its streams in its range.
   */
  remember(from: Checkpoint, limit: number, filter: EventFilter, events: RecordedEvent[]): void {
    if (events.length === 0 || (filter.types && filter.types.length > 0)) return;
    const key = prefixKey(filter);
    let stretch = this.stretches.get(key);
    if (!stretch) {
      // a few kinds of reader in one process; anything beyond is not worth keeping
      if (this.stretches.size >= 4) return;
      stretch = new Stretch(this.capacity);
      this.stretches.set(key, stretch);
    }
    stretch.remember(from, events, events.length < limit);
  }
}

/** A contiguous run of the log (of some streams): every such event after `from`. */
class Stretch {
  private from: Checkpoint | undefined;
  private events: RecordedEvent[] = [];
  /** Where each checkpoint of the stretch is: the index (counted from the first event ever kept) of the event after it. */
  private readonly after = new Map<Checkpoint, number>();
  /** Events dropped from the front. */
  private dropped = 0;
  /** The last read that extended it came back short: it reached the head of the log then. */
  private reachedHead = false;

  constructor(private readonly capacity: number) {}

  read(from: Checkpoint, limit: number, filter: EventFilter): ReadAllResult | undefined {
    const at = this.after.get(from);
    if (at === undefined) return undefined;
    const start = at - this.dropped;
    if (start < 0 || start >= this.events.length) return undefined;
    const picked: RecordedEvent[] = [];
    let i = start;
    for (; i < this.events.length && picked.length < limit; i++)
      if (matchesEventFilter(this.events[i]!, filter)) picked.push(this.events[i]!);
    if (picked.length === 0 || (picked.length < limit && !this.reachedHead)) return undefined;
    // filtered, the reader may skip what it looked through: the events between did not match
    return {
      events: picked,
      checkpoint: picked.length === limit ? picked[picked.length - 1]!.checkpoint : this.events[i - 1]!.checkpoint,
    };
  }

  remember(from: Checkpoint, events: RecordedEvent[], short: boolean): void {
    const continues = this.from !== undefined && this.events[this.events.length - 1]!.checkpoint === from;
    if (!continues) {
      this.from = from;
      this.events = [];
      this.after.clear();
      this.dropped = 0;
      this.after.set(from, 0);
    }
    this.reachedHead = short;
    for (const e of events) {
      this.events.push(e);
      this.after.set(e.checkpoint, this.dropped + this.events.length);
    }
    // the oldest go first: readers that far behind read from the database
    const excess = this.events.length - this.capacity;
    if (excess > 0) {
      this.after.delete(this.from!);
      for (let k = 0; k < excess - 1; k++) this.after.delete(this.events[k]!.checkpoint);
      this.from = this.events[excess - 1]!.checkpoint;
      this.events.splice(0, excess);
      this.dropped += excess;
    }
  }
}

/** The stream prefixes of a filter, as one comparable string ('' for all streams). */
function prefixKey(filter: EventFilter): string {
  return filter.streamPrefixes && filter.streamPrefixes.length > 0
    ? JSON.stringify([...filter.streamPrefixes].sort())
    : '';
}
