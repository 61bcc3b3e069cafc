import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createClickHouse, qualified, type ClickHouse } from '../../infra/clickhouse/index.js';
import { clickhouseAnalyticsSink } from '../../projections/analytics/clickhouse-analytics-sink.js';
import { ClickHouseReports } from '../../read-api/analytics/clickhouse-reports.js';
import {
  BreakdownDimension,
  BreakdownQuery,
  Bucket,
  MessageEngagementQuery,
  ReportQuery,
  TimeSeriesQuery,
  TopLinksQuery,
} from '../../read-api/analytics/reports-port.js';
import { catchUp } from '../helpers/projections.js';
import { analyticsReportsContract, SERVER_A } from '../contract/analytics-reports.contract.js';
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
    const sink = () =>
      clickhouseAnalyticsSink({
        clickhouse: connect(),
        eventStore: ctx.store,
        logger: testLogger,
        batchSize: 7,
        minInsertIntervalMs: 0,
        cacheMessages: 2,
      });
    const reports = new ClickHouseReports(connect());
    const inspect = connect();
    return {
      reports,
      // a new sink each time (the runner closes its client when it stops): its cache starts cold, as after a restart
      catchUp: () => catchUp(ctx.db, ctx.store, sink()),
      async redeliver(events) {
        // what a crash between the insert and the checkpoint does: a restarted sink gets the batch again
        await sink().deliver(events);
      },
      async verify() {
        const funnel = ReportQuery.parse({
          scope: { serverIds: [SERVER_A] },
          range: { from: '2026-03-28T00:00:00Z', to: '2026-03-30T00:00:00Z' },
        });
        const before = await reports.funnel(funnel);
        const [stored] = await inspect.query<{ rows: number; ids: number }>(
          `SELECT count() AS rows, uniqExact(event_id) AS ids FROM postlog.events`,
        );
        assert.equal(stored!.rows, stored!.ids, 'the batches delivered again inserted no copies');
        // a copy that still gets in (a dying leader's late insert): with merges stopped, a copy of every
        // row sits in the table; distinct-message counts stay right, and the merge removes the copies
        await inspect.command('SYSTEM STOP MERGES');
        try {
          const rows = await inspect.query<Record<string, unknown>>(`SELECT * FROM postlog.events`);
          await inspect.insert('events', rows);
          const [copies] = await inspect.query<{ rows: number; ids: number }>(
            `SELECT count() AS rows, uniqExact(event_id) AS ids FROM postlog.events`,
          );
          assert.equal(copies!.rows, 2 * copies!.ids, 'every event is in the table twice');
          const during = await reports.funnel(funnel);
          assert.deepEqual(
            [during.deferred, during.opened.unique, during.clicked.human.unique],
            [before.deferred, before.opened.unique, before.clicked.human.unique],
          );
        } finally {
          await inspect.command('SYSTEM START MERGES');
        }
        await inspect.command('OPTIMIZE TABLE postlog.events FINAL');
        assert.deepEqual(await reports.funnel(funnel), before);
        const [merged] = await inspect.query<{ rows: number; ids: number }>(
          `SELECT count() AS rows, uniqExact(event_id) AS ids FROM postlog.events`,
        );
        assert.equal(merged!.rows, merged!.ids, 'the ReplacingMergeTree merged the copies away');
      },
      close: async () => undefined,
    };
  });

describe('ClickHouse report queries on a current ClickHouse (chdb dialect check)', { skip: chdbSkipReason() }, () => {
  it('runs every report statement, with every bucket, dimension and filter, on current ClickHouse', async () => {
    // only the statements are built here: nothing is sent to a server
    const reports = new ClickHouseReports({
      database: 'postlog',
      table: (t: string) => qualified('postlog', t),
    } as unknown as ClickHouse);
    const base = {
      scope: { serverIds: [SERVER_A, "x' OR 1=1 --"] },
      range: { from: '2026-03-28T00:00:00Z', to: '2026-03-30T00:00:00Z' },
    };
    const filter = {
      tag: "t'\\",
      sendingDomain: 'a.example',
      recipientDomain: 'gmail.com',
      mailboxProvider: 'google.com',
      ip: '192.0.2.1',
    };
    const statements = [
      reports.statements.funnel(ReportQuery.parse(base)),
      reports.statements.funnel(ReportQuery.parse({ ...base, scope: { serverIds: null }, filter })),
      reports.statements.funnel(ReportQuery.parse({ ...base, scope: { serverIds: [] } })),
      ...Bucket.options.map((bucket) =>
        reports.statements.timeSeries(TimeSeriesQuery.parse({ ...base, bucket, timeZone: 'Asia/Kolkata', filter })),
      ),
      ...BreakdownDimension.options.map((dimension) =>
        reports.statements.breakdown(BreakdownQuery.parse({ ...base, dimension, orderBy: 'clicked', limit: 5 })),
      ),
      reports.statements.topLinks(TopLinksQuery.parse({ ...base, filter })),
      reports.statements.messageEvents(MessageEngagementQuery.parse({ scope: base.scope, messageId: '1' })),
      reports.statements.messageLinks(MessageEngagementQuery.parse({ scope: { serverIds: null }, messageId: '1' })),
    ].map(String);
    const report = await checkQueriesOnCurrentClickHouse(statements, { database: 'postlog' });
    assert.deepEqual(report.failures, [], `ClickHouse ${report.version}`);
  });
});
