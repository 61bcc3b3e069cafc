import type { Checkpoint, EventFilter, ReadAllResult, RecordedEvent } from '../port.js';

/**
 * The stretch of the log this process read last, kept for the other readers of the process.
 *
 * A worker runs several projections, each its own subscription to the whole log; caught up,
 * they all read the same new events moments apart. Each read is a query and every row is
 * parsed again (ids, positions, dates, the JSON of data and metadata), per projection: about
 * five times per event. Here the first reader's rows serve the others.
 *
 * Only subscriptions are served from here: they may get fewer events than there are (they read
 * again), while readAll promises as many as the limit allows.
 *
 * Served from here is always a true prefix of the log after the reader's checkpoint: the stretch
 * holds every event after `from`, in checkpoint order, as one read saw them, and the part of the
 * log a read has seen never changes (it only grows past the stretch's end). A reader past the
 * stretch's end, or behind its start, reads from the database, and an unfiltered read that
 * continues the stretch extends it. The events are shared between readers: they must treat them
 * as read-only (they all do: events are decoded into new objects before use).
 */
export class RecentEvents {
  private from: Checkpoint | undefined;
  /** The stream prefixes of the reads that made the stretch ('' for all streams): it holds every event of those. */
  private prefixes = '';
  private events: RecordedEvent[] = [];
  /** Where each checkpoint of the stretch is: the index of the event after it. */
  private readonly after = new Map<Checkpoint, number>();
  /** Offset of events[0] in the indices of `after` (events dropped from the front). */
  private dropped = 0;

  constructor(private readonly capacity = 5000) {}

  /**
   * Up to `limit` events after `from` that match `filter`, from the stretch; undefined when the
   * stretch does not reach past `from` or nothing after it matches (then the database decides:
   * an empty answer would make the reader wait as if it had caught up).
   */
  read(from: Checkpoint, limit: number, filter: EventFilter): ReadAllResult | undefined {
    // a stretch of some streams' events can serve only readers of those same streams
    if (this.prefixes !== '' && this.prefixes !== prefixKey(filter)) return undefined;
    const at = this.after.get(from);
    if (at === undefined) return undefined;
    const start = at - this.dropped;
    if (start < 0 || start >= this.events.length) return undefined;
    const picked: RecordedEvent[] = [];
    let i = start;
    for (; i < this.events.length && picked.length < limit; i++) if (matches(this.events[i]!, filter)) picked.push(this.events[i]!);
    if (picked.length === 0) return undefined;
    // filtered, the reader may skip what it looked through: the events between did not match
    return { events: picked, checkpoint: picked.length === limit ? picked[picked.length - 1]!.checkpoint : this.events[i - 1]!.checkpoint };
  }

  /**
   * Keeps what a read from `from` returned: it extends the stretch, or starts a new one. Only a
   * read of whole streams (no type filter) has every event of its streams in its range.
   */
  remember(from: Checkpoint, filter: EventFilter, events: RecordedEvent[]): void {
    if (events.length === 0 || (filter.types && filter.types.length > 0)) return;
    const prefixes = prefixKey(filter);
    const continues = this.from !== undefined && prefixes === this.prefixes && this.events[this.events.length - 1]!.checkpoint === from;
    if (!continues) {
      this.from = from;
      this.prefixes = prefixes;
      this.events = [];
      this.after.clear();
      this.dropped = 0;
      this.after.set(from, 0);
    }
    for (const e of events) {
      this.events.push(e);
      this.after.set(e.checkpoint, this.dropped + this.events.length);
    }
    // the oldest go first: readers that far behind read from the database
    const excess = this.events.length - this.capacity;
    if (excess > 0) {
      this.after.delete(this.from!);
      for (const e of this.events.slice(0, excess - 1)) this.after.delete(e.checkpoint);
      this.from = this.events[excess - 1]!.checkpoint;
      this.events = this.events.slice(excess);
      this.dropped += excess;
    }
  }
}

/** The stream prefixes of a filter, as one comparable string ('' for all streams). */
function prefixKey(filter: EventFilter): string {
  return filter.streamPrefixes && filter.streamPrefixes.length > 0 ? JSON.stringify([...filter.streamPrefixes].sort()) : '';
}

function matches(e: RecordedEvent, filter: EventFilter): boolean {
  if (filter.types && filter.types.length > 0 && !filter.types.includes(e.type)) return false;
  if (filter.streamPrefixes && filter.streamPrefixes.length > 0 && !filter.streamPrefixes.some((p) => e.streamId.startsWith(p))) return false;
  return true;
}
