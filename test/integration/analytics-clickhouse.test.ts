import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createClickHouse, qualified, type ClickHouse } from '../../infra/clickhouse/index.js';
import { clickhouseAnalyticsSink } from '../../projections/analytics/clickhouse-analytics-sink.js';
import { ClickHouseReports } from '../../read-api/analytics/clickhouse-reports.js';
import { BreakdownDimension, BreakdownQuery, Bucket, MessageEngagementQuery, ReportQuery, TimeSeriesQuery, TopLinksQuery } from '../../read-api/analytics/reports-port.js';
import { analyticsReportsContract, runUntilCaughtUp, SERVER_A } from '../contract/analytics-reports.contract.js';
import { checkQueriesOnCurrentClickHouse, chdbSkipReason } from '../helpers/chdb.js';
import { clickhouseSkipReason, startClickHouse, type ClickHouseServer } from '../helpers/clickhouse.js';
import { testLogger } from '../helpers/database.js';

const skip = clickhouseSkipReason();
let server: ClickHouseServer | undefined;
const clients: ClickHouse[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await server?.stop();
});

/** ClickHouse 18.16 (the sink projection fills it from the log) against the report contract. */
if (skip) describe('analytics reports contract: clickhouse', { skip }, () => undefined);
else
  analyticsReportsContract('clickhouse', async (ctx) => {
    server = await startClickHouse();
    const connect = () => {
      const c = createClickHouse({ url: server!.url, database: 'postlog', logger: testLogger });
      clients.push(c);
      return c;
    };
    // small batches and a cache of two messages: many inserts, evictions, and dimensions read back from the log
    const sink = () => clickhouseAnalyticsSink({ clickhouse: connect(), eventStore: ctx.store, logger: testLogger, batchSize: 7, minInsertIntervalMs: 0, cacheMessages: 2 });
    const reports = new ClickHouseReports(connect());
    const inspect = connect();
    return {
      reports,
      // a new sink each time (the runner closes its client when it stops): its cache starts cold, as after a restart
      catchUp: () => runUntilCaughtUp(ctx, sink()),
      async redeliver(events) {
        // a restarted sink leaves out what ClickHouse has for its first batch; the later batches here
        // are copies too (as from a dying leader's late insert), which get in and must not count
        const again = sink();
        for (let i = 0; i < events.length; i += 5) await again.deliver(events.slice(i, i + 5));
      },
      async verify() {
        // copies that got in (a late insert of a dying leader) never count, merged away or not:
        // with merges stopped, a copy of every row sits in the table and the funnel stays the same
        const funnel = ReportQuery.parse({ scope: { serverIds: [SERVER_A] }, range: { from: '2026-03-28T00:00:00Z', to: '2026-03-30T00:00:00Z' } });
        const before = await reports.funnel(funnel);
        await inspect.command('SYSTEM STOP MERGES');
        try {
          const rows = await inspect.query<Record<string, unknown>>(`SELECT * FROM postlog.events`);
          await inspect.insert('events', rows);
          const [counts] = await inspect.query<{ rows: number; ids: number }>(`SELECT count() AS rows, uniqExact(event_id) AS ids FROM postlog.events`);
          assert.equal(counts!.rows, 2 * counts!.ids, 'every event is in the table twice');
          assert.deepEqual(await reports.funnel(funnel), before);
        } finally {
          await inspect.command('SYSTEM START MERGES');
        }
        await inspect.command('OPTIMIZE TABLE postlog.events FINAL');
        // a restarted sink's first batch leaves out every event the table has
        const [merged] = await inspect.query<{ rows: number; ids: number }>(`SELECT count() AS rows, uniqExact(event_id) AS ids FROM postlog.events`);
        assert.equal(merged!.rows, merged!.ids, 'the ReplacingMergeTree merged the copies away');
        const { events } = await ctx.store.readAll('start', 1000, { streamPrefixes: ['message-'] });
        await sink().deliver(events);
        const [afterwards] = await inspect.query<{ rows: number }>(`SELECT count() AS rows FROM postlog.events`);
        assert.equal(afterwards!.rows, merged!.rows, 'nothing inserted again');
      },
      close: async () => undefined,
    };
  });

describe('ClickHouse report queries on a current ClickHouse (chdb dialect check)', { skip: chdbSkipReason() }, () => {
  it('runs every report statement, with every bucket, dimension and filter, on current ClickHouse', async () => {
    // only the statements are built here: nothing is sent to a server
    const reports = new ClickHouseReports({ database: 'postlog', table: (t: string) => qualified('postlog', t) } as unknown as ClickHouse);
    const base = { scope: { serverIds: [SERVER_A, "x' OR 1=1 --"] }, range: { from: '2026-03-28T00:00:00Z', to: '2026-03-30T00:00:00Z' } };
    const filter = { tag: "t'\\", sendingDomain: 'a.example', recipientDomain: 'gmail.com', mailboxProvider: 'google.com', ip: '192.0.2.1' };
    const statements = [
      reports.statements.funnel(ReportQuery.parse(base)),
      reports.statements.funnel(ReportQuery.parse({ ...base, scope: { serverIds: null }, filter })),
      reports.statements.funnel(ReportQuery.parse({ ...base, scope: { serverIds: [] } })),
      ...Bucket.options.map((bucket) => reports.statements.timeSeries(TimeSeriesQuery.parse({ ...base, bucket, timeZone: 'Asia/Kolkata', filter }))),
      ...BreakdownDimension.options.map((dimension) => reports.statements.breakdown(BreakdownQuery.parse({ ...base, dimension, orderBy: 'clicked', limit: 5 }))),
      reports.statements.topLinks(TopLinksQuery.parse({ ...base, filter })),
      reports.statements.messageEvents(MessageEngagementQuery.parse({ scope: base.scope, messageId: '1' })),
      reports.statements.messageLinks(MessageEngagementQuery.parse({ scope: { serverIds: null }, messageId: '1' })),
    ].map(String);
    const report = await checkQueriesOnCurrentClickHouse(statements, { database: 'postlog' });
    assert.deepEqual(report.failures, [], `ClickHouse ${report.version}`);
  });
});
