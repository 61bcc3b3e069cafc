import { messageStreamId } from '../../domain/index.js';
import { LRUCache } from 'lru-cache';
import type { EventStore, RecordedEvent } from '../../infra/event-store/index.js';
import {
  analyticsRowOf,
  decodeMessageEvent,
  evolveDimensions,
  isAnalyticsEvent,
  messageIdOfStream,
  type AnalyticsRow,
  type MessageDimensions,
} from './analytics-row.js';

interface Known {
  dims: MessageDimensions | undefined;
  /** The stream revision these dimensions are "after". */
  revision: number;
}

/**
 * The message dimensions a projection outside Postgres needs for each event (ClickHouse rows copy
 * them): kept in an LRU cache keyed by message, each entry remembering the revision it is after, so
 * it is only used for a later event of its stream (the projection reads only the event types that
 * matter to analytics, so revisions in between are ones that change nothing). Anything else (a cold
 * cache after a restart, an evicted message, a batch delivered again) is read from the log: the
 * message's stream up to the event, folded with the same pure function. So the rows never depend on
 * what happened to be cached. Reads are one readStreams call per batch for all the messages it lacks.
 */
export class DimensionLookup {
  private readonly cache: LRUCache<string, Known>;

  constructor(
    private readonly eventStore: EventStore,
    options: { maxMessages?: number; onLookups?: (hits: number, misses: number) => void } = {},
  ) {
    this.cache = new LRUCache({ max: options.maxMessages ?? 200_000 });
    this.onLookups = options.onLookups;
  }

  private readonly onLookups: ((hits: number, misses: number) => void) | undefined;

  /** The analytics rows of a batch of message events (in log order). */
  async flatten(events: RecordedEvent[]): Promise<AnalyticsRow[]> {
    // which messages' dimensions must come from the log: those whose first event here does not follow what we know
    const next = new Map<string, number>();
    const missing = new Map<string, number>();
    let hits = 0;
    for (const e of events) {
      const id = messageIdOfStream(e.streamId);
      const after = next.has(id) ? next.get(id)! : this.cache.get(id)?.revision;
      const follows = after !== undefined && after < e.revision;
      if (!next.has(id) && e.revision !== 0 && follows) hits++;
      if (e.revision !== 0 && !follows && !missing.has(id)) missing.set(id, e.revision);
      next.set(id, e.revision);
    }
    this.onLookups?.(hits, missing.size);
    const current = new Map<string, Known>();
    if (missing.size > 0) {
      const streams = await this.eventStore.readStreams([...missing.keys()].map((id) => messageStreamId(id)));
      for (const [id, firstRevision] of missing) {
        let dims: MessageDimensions | undefined;
        for (const r of streams.get(messageStreamId(id)) ?? []) {
          if (r.revision >= firstRevision) break;
          if (isAnalyticsEvent(r.type)) dims = evolveDimensions(dims, decodeMessageEvent(r));
        }
        current.set(id, { dims, revision: firstRevision - 1 });
      }
    }
    const rows: AnalyticsRow[] = [];
    for (const e of events) {
      const id = messageIdOfStream(e.streamId);
      const before = e.revision === 0 ? undefined : (current.get(id) ?? this.cache.get(id))?.dims;
      if (!isAnalyticsEvent(e.type)) {
        current.set(id, { dims: before, revision: e.revision }); // changes nothing, gives no row: not even decoded
        continue;
      }
      const { dimensions, row } = analyticsRowOf(e, decodeMessageEvent(e), before);
      current.set(id, { dims: dimensions, revision: e.revision });
      if (row) rows.push(row);
    }
    for (const [id, known] of current) this.cache.set(id, known);
    return rows;
  }
}
