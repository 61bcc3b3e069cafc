import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresEventStore, type RecordedEvent } from '../../infra/event-store/index.js';
import {
  analyticsRowOf,
  decodeMessageEvent,
  isAnalyticsEvent,
  messageIdOfStream,
  type AnalyticsRow,
  type MessageDimensions,
} from '../../projections/analytics/analytics-row.js';
import { DimensionLookup } from '../../projections/analytics/dimension-lookup.js';
import { writeTheLog } from '../contract/analytics-reports.contract.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';

describe('dimension lookup of the ClickHouse sink: the same rows whatever its cache held', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let events: RecordedEvent[];
  let expected: AnalyticsRow[];
  before(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ pool: db.pool, connectionString: db.url, logger: testLogger });
    await writeTheLog(store);
    events = (await store.readAll('start', 1000, { streamPrefixes: ['message-'] })).events;
    // the reference: one fold over the whole log in order
    const dims = new Map<string, MessageDimensions | undefined>();
    expected = events.flatMap((e) => {
      const out = analyticsRowOf(e, decodeMessageEvent(e), dims.get(messageIdOfStream(e.streamId)));
      dims.set(messageIdOfStream(e.streamId), out.dimensions);
      return out.row ? [out.row] : [];
    });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  for (const [batch, cache] of [
    [1, 1],
    [3, 2],
    [7, 1000],
    [100, 1],
  ] as const) {
    it(`batches of ${batch}, a cache of ${cache} message(s)`, async () => {
      let hits = 0;
      let misses = 0;
      const lookup = new DimensionLookup(store, {
        maxMessages: cache,
        onLookups: (h, m) => ((hits += h), (misses += m)),
      });
      const rows: AnalyticsRow[] = [];
      for (let i = 0; i < events.length; i += batch) rows.push(...(await lookup.flatten(events.slice(i, i + batch))));
      assert.deepEqual(rows, expected);
      if (cache === 1000) assert.equal(misses, 0, 'a warm cache reads nothing from the log');
      if (batch === 1 && cache === 1) assert.ok(misses > 0 && hits > 0, `${hits} hits, ${misses} misses`);
    });
  }

  it("only the event types analytics reads (the projection's filter), in batches of 4 with a cache of 1", async () => {
    const lookup = new DimensionLookup(store, { maxMessages: 1 });
    const relevant = events.filter((e) => isAnalyticsEvent(e.type));
    assert.ok(relevant.length < events.length);
    const rows: AnalyticsRow[] = [];
    for (let i = 0; i < relevant.length; i += 4) rows.push(...(await lookup.flatten(relevant.slice(i, i + 4))));
    assert.deepEqual(rows, expected);
  });

  it('a batch delivered again (after a crash) gives the same rows, read back from the log', async () => {
    const lookup = new DimensionLookup(store);
    const all = await lookup.flatten(events);
    const tail = events.slice(10);
    const again = await lookup.flatten(tail);
    assert.deepEqual(
      again,
      expected.filter((r) => tail.some((e) => e.eventId === r.event_id)),
    );
    assert.deepEqual(all, expected);
  });
});
