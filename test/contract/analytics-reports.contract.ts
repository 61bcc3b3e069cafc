import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresEventStore, type EventStore, type RecordedEvent } from '../../infra/event-store/index.js';
import {
  BreakdownQuery,
  MessageEngagementQuery,
  ReportQuery,
  TimeSeriesQuery,
  TopLinksQuery,
  type AnalyticsReports,
  type EngagementCounts,
  type FunnelCounts,
} from '../../read-api/analytics/reports-port.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';

/**
 * The analytics report contract: every adapter (Postgres tables, ClickHouse) must give exactly
 * these numbers for the same log. The log is written through the real write side (the message
 * decider and the Postgres event store); the numbers below are worked out by hand from it.
 */
export interface AnalyticsHarness {
  reports: AnalyticsReports;
  /** Runs the adapter's projection until it has applied everything in the log. */
  catchUp(): Promise<void>;
  /** Hands events to the projection a second time (what an at-least-once sink does after a crash). */
  redeliver(events: RecordedEvent[]): Promise<void>;
  /** Adapter-specific checks after the contract (e.g. a rebuild from the log equals the live tables). */
  verify?(): Promise<void>;
  close(): Promise<void>;
}

export interface ContractContext {
  db: TestDatabase;
  store: EventStore;
}

export const SERVER_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
export const SERVER_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const URL1 = 'https://shop.example/a?x=1&y=%27';
const URL2 = 'https://shop.example/b';

const eng = (total: number, unique: number, human: [number, number], machine: [number, number]): EngagementCounts => ({
  total,
  unique,
  human: { total: human[0], unique: human[1] },
  machine: { total: machine[0], unique: machine[1] },
});
const none = eng(0, 0, [0, 0], [0, 0]);
const funnel = (f: Partial<FunnelCounts>): FunnelCounts => ({
  accepted: 0,
  delivered: 0,
  bounced: 0,
  deferred: 0,
  failed: 0,
  opened: none,
  clicked: none,
  ...f,
});

/**
 * The log, in the order it happened (Paris is UTC+1 until 2026-03-29T01:00Z, UTC+2 after; Kolkata
 * is UTC+5:30). Server A:
 *  1 news@a.example → alice@gmail.com, tag news: deferred by alt1.aspmx.l.google.com from 192.0.2.1, delivered
 *    by aspmx.l.google.com 23:10Z; opened by Google's proxy (machine) 23:11Z, by a person 23:20Z and at 01:30Z on
 *    the 29th; URL2 clicked by a scanner 23:12Z, URL1 by a person 23:25Z and 23:26Z.
 *  2 news@a.example → bob@example.org, tag news: bounced (bad-mailbox) by mx.example.org from 192.0.2.2, 22:35Z.
 *  3 billing@b.example → carol@outlook.com, no tag: accepted 23:50Z; delivered 00:05Z on the 29th by Outlook from
 *    192.0.2.2; opened 00:30Z, URL1 clicked 00:31Z, then a late DSN (mailbox-full) at 02:00Z.
 *  4 news@a.example → dave@gmail.com, tag promo: accepted 23:55Z, deferred by Google 23:56Z from 192.0.2.1, failed 03:00Z.
 * Server B:
 *  5 hi@c.example → eve@gmail.com: accepted 22:30Z, delivered 22:31Z, opened by a person 22:40Z.
 */
export async function writeTheLog(store: EventStore): Promise<void> {
  const run = async (id: string, command: Parameters<typeof handleMessageCommand>[2]) => {
    const res = await handleMessageCommand(store, id, command);
    assert.ok(res.ok, `${id} ${command.type}: ${JSON.stringify(res)}`);
  };
  const accept = (id: string, serverId: string, from: string, to: string, at: string, tag?: string) =>
    run(id, {
      type: 'Accept',
      message: {
        messageId: id,
        serverId,
        batchId: `b${id}`,
        rfcMessageId: `${id}@x`,
        token: 'AbCdEfGh12345678',
        from,
        to,
        subject: 's',
        ...(tag ? { tag } : {}),
        contentHash: 'c'.repeat(64),
        size: 10,
        source: 'api',
      },
      at,
    });
  const attempt = (mxHost: string, localIp: string, code: number, at: string) => ({
    attempt: 1,
    mxHost,
    localIp,
    reply: { code, text: 'x' },
    durationMs: 4,
    at,
  });
  const d28 = (hm: string) => `2026-03-28T${hm}:00.000Z`;
  const d29 = (hm: string) => `2026-03-29T${hm}:00.000Z`;

  await accept('1', SERVER_A, 'news@a.example', 'alice@gmail.com', d28('22:30'), 'news');
  await accept('5', SERVER_B, 'hi@c.example', 'eve@gmail.com', d28('22:30'));
  await accept('2', SERVER_A, 'News <news@A.example>', 'bob@Example.org', d28('22:31'), 'news');
  await run('5', {
    type: 'RecordDelivery',
    delivery: attempt('gmail-smtp-in.l.google.com', '192.0.2.9', 250, d28('22:31')),
    at: d28('22:31'),
  });
  await run('2', {
    type: 'RecordBounce',
    kind: 'sync',
    delivery: attempt('mx.example.org', '192.0.2.2', 550, d28('22:35')),
    diagnostic: '550 5.1.1 unknown',
    classification: 'bad-mailbox',
    suppress: true,
    at: d28('22:35'),
  });
  await run('1', {
    type: 'RecordDeferral',
    delivery: attempt('alt1.aspmx.l.google.com', '192.0.2.1', 421, d28('22:40')),
    reason: '421',
    nextAttemptAt: d28('23:10'),
    at: d28('22:40'),
  });
  await run('5', { type: 'RecordOpen', machine: false, userAgent: 'Mozilla/5.0 (Windows NT 10.0)', at: d28('22:40') });
  await run('1', {
    type: 'RecordDelivery',
    delivery: attempt('aspmx.l.google.com', '192.0.2.1', 250, d28('23:10')),
    at: d28('23:10'),
  });
  await run('1', { type: 'RecordOpen', machine: true, userAgent: 'GoogleImageProxy', at: d28('23:11') });
  await run('1', { type: 'RecordClick', url: URL2, machine: true, at: d28('23:12') });
  await run('1', { type: 'RecordOpen', machine: false, at: d28('23:20') });
  await run('1', { type: 'RecordClick', url: URL1, machine: false, at: d28('23:25') });
  await run('1', { type: 'RecordClick', url: URL1, machine: false, at: d28('23:26') });
  await accept('3', SERVER_A, 'billing@b.example', 'carol@outlook.com', d28('23:50'));
  await accept('4', SERVER_A, 'news@a.example', 'dave@gmail.com', d28('23:55'), 'promo');
  await run('4', {
    type: 'RecordDeferral',
    delivery: attempt('aspmx.l.google.com', '192.0.2.1', 451, d28('23:56')),
    reason: '451',
    nextAttemptAt: d29('03:00'),
    at: d28('23:56'),
  });
  await run('3', {
    type: 'RecordDelivery',
    delivery: attempt('b-example.mail.protection.outlook.com', '192.0.2.2', 250, d29('00:05')),
    at: d29('00:05'),
  });
  await run('3', { type: 'RecordOpen', machine: false, at: d29('00:30') });
  await run('3', { type: 'RecordClick', url: URL1, machine: false, at: d29('00:31') });
  await run('1', { type: 'RecordOpen', machine: false, at: d29('01:30') });
  await run('3', {
    type: 'RecordBounce',
    kind: 'async',
    diagnostic: '552 mailbox full',
    classification: 'mailbox-full',
    suppress: false,
    at: d29('02:00'),
  });
  await run('4', { type: 'RecordFailure', reason: 'too many attempts', at: d29('03:00') });
}

export function analyticsReportsContract(
  adapter: string,
  setup: (ctx: ContractContext) => Promise<AnalyticsHarness>,
): void {
  describe(`analytics reports contract: ${adapter}`, () => {
    let db: TestDatabase;
    let store: PostgresEventStore;
    let h: AnalyticsHarness;
    let reports: AnalyticsReports;
    const A = { serverIds: [SERVER_A] };
    const range = { from: '2026-03-28T00:00:00Z', to: '2026-03-30T00:00:00Z' };
    const q = (extra: Record<string, unknown> = {}) => ReportQuery.parse({ scope: A, range, ...extra });

    before(async () => {
      db = await createTestDatabase();
      store = new PostgresEventStore({
        pool: db.pool,
        connectionString: db.url,
        logger: testLogger,
        pollIntervalMs: 25,
      });
      await writeTheLog(store);
      h = await setup({ db, store });
      reports = h.reports;
      await h.catchUp();
    });
    after(async () => {
      await h?.close();
      await store?.close();
      await db?.drop();
    });

    const fullA = funnel({
      accepted: 4,
      delivered: 2,
      bounced: 2,
      deferred: 2,
      failed: 1,
      opened: eng(4, 2, [3, 2], [1, 1]),
      clicked: eng(4, 2, [3, 2], [1, 1]),
    });

    it('funnel: distinct messages per outcome; opens and clicks total and unique, people and machines apart', async () => {
      assert.deepEqual(await reports.funnel(q()), fullA);
    });

    it('funnel: scoped to the servers the caller may see', async () => {
      assert.deepEqual(
        await reports.funnel(q({ scope: { serverIds: [SERVER_B] } })),
        funnel({ accepted: 1, delivered: 1, opened: eng(1, 1, [1, 1], [0, 0]) }),
      );
      assert.deepEqual(
        await reports.funnel(q({ scope: { serverIds: null } })),
        funnel({ ...fullA, accepted: 5, delivered: 3, opened: eng(5, 3, [4, 3], [1, 1]) }),
      );
      assert.deepEqual(await reports.funnel(q({ scope: { serverIds: [] } })), funnel({}));
      assert.deepEqual(await reports.funnel(q({ scope: { serverIds: ['not-a-server', "x' OR '1'='1"] } })), funnel({}));
    });

    it('funnel: counts events at the time they happened, within [from, to)', async () => {
      assert.deepEqual(
        await reports.funnel(q({ range: { from: '2026-03-29T00:00:00Z', to: '2026-03-30T00:00:00Z' } })),
        funnel({
          delivered: 1,
          bounced: 1,
          failed: 1,
          opened: eng(2, 2, [2, 2], [0, 0]),
          clicked: eng(1, 1, [1, 1], [0, 0]),
        }),
      );
      // "to" is exclusive: the failure at exactly 03:00Z is out, the bounce at 02:00Z in
      assert.deepEqual(
        await reports.funnel(q({ range: { from: '2026-03-29T02:00:00Z', to: '2026-03-29T03:00:00Z' } })),
        funnel({ bounced: 1 }),
      );
    });

    it('funnel: filters by tag, sending domain, recipient domain, mailbox provider and IP', async () => {
      assert.deepEqual(
        await reports.funnel(q({ filter: { tag: 'news' } })),
        funnel({
          accepted: 2,
          delivered: 1,
          bounced: 1,
          deferred: 1,
          opened: eng(3, 1, [2, 1], [1, 1]),
          clicked: eng(3, 1, [2, 1], [1, 1]),
        }),
      );
      assert.deepEqual(
        await reports.funnel(q({ filter: { sendingDomain: 'B.example' } })),
        funnel({
          accepted: 1,
          delivered: 1,
          bounced: 1,
          opened: eng(1, 1, [1, 1], [0, 0]),
          clicked: eng(1, 1, [1, 1], [0, 0]),
        }),
      );
      assert.deepEqual(
        await reports.funnel(q({ filter: { recipientDomain: 'example.org' } })),
        funnel({ accepted: 1, bounced: 1 }),
      );
      // the provider is known from the first attempt on: the accepted events are not under it
      assert.deepEqual(
        await reports.funnel(q({ filter: { mailboxProvider: 'google.com' } })),
        funnel({
          delivered: 1,
          deferred: 2,
          failed: 1,
          opened: eng(3, 1, [2, 1], [1, 1]),
          clicked: eng(3, 1, [2, 1], [1, 1]),
        }),
      );
      assert.deepEqual(await reports.funnel(q({ filter: { ip: '192.0.2.2', tag: 'news' } })), funnel({ bounced: 1 }));
      assert.deepEqual(await reports.funnel(q({ filter: { tag: "news' OR 1=1 --" } })), funnel({}));
    });

    it("time series: day buckets on the zone's calendar (Paris: the 28th ends at 23:00Z)", async () => {
      const paris = await reports.timeSeries(
        TimeSeriesQuery.parse({ scope: A, range, bucket: 'day', timeZone: 'Europe/Paris' }),
      );
      assert.deepEqual(paris, [
        {
          start: '2026-03-27T23:00:00.000Z',
          local: '2026-03-28T00:00:00',
          counts: funnel({ accepted: 2, bounced: 1, deferred: 1 }),
        },
        {
          start: '2026-03-28T23:00:00.000Z',
          local: '2026-03-29T00:00:00',
          counts: funnel({
            accepted: 2,
            delivered: 2,
            bounced: 1,
            deferred: 1,
            failed: 1,
            opened: eng(4, 2, [3, 2], [1, 1]),
            clicked: eng(4, 2, [3, 2], [1, 1]),
          }),
        },
      ]);
      const utc = await reports.timeSeries(TimeSeriesQuery.parse({ scope: A, range, bucket: 'day' }));
      assert.deepEqual(utc, [
        {
          start: '2026-03-28T00:00:00.000Z',
          local: '2026-03-28T00:00:00',
          counts: funnel({
            accepted: 4,
            delivered: 1,
            bounced: 1,
            deferred: 2,
            opened: eng(2, 1, [1, 1], [1, 1]),
            clicked: eng(3, 1, [2, 1], [1, 1]),
          }),
        },
        {
          start: '2026-03-29T00:00:00.000Z',
          local: '2026-03-29T00:00:00',
          counts: funnel({
            delivered: 1,
            bounced: 1,
            failed: 1,
            opened: eng(2, 2, [2, 2], [0, 0]),
            clicked: eng(1, 1, [1, 1], [0, 0]),
          }),
        },
      ]);
    });

    it('time series: hour buckets across the spring-forward night (no 02:00 in Paris) and on a half-hour zone', async () => {
      const night = await reports.timeSeries(
        TimeSeriesQuery.parse({
          scope: A,
          range: { from: '2026-03-29T00:00:00Z', to: '2026-03-29T04:00:00Z' },
          bucket: 'hour',
          timeZone: 'Europe/Paris',
        }),
      );
      assert.deepEqual(night, [
        {
          start: '2026-03-29T00:00:00.000Z',
          local: '2026-03-29T01:00:00',
          counts: funnel({ delivered: 1, opened: eng(1, 1, [1, 1], [0, 0]), clicked: eng(1, 1, [1, 1], [0, 0]) }),
        },
        {
          start: '2026-03-29T01:00:00.000Z',
          local: '2026-03-29T03:00:00',
          counts: funnel({ opened: eng(1, 1, [1, 1], [0, 0]) }),
        },
        { start: '2026-03-29T02:00:00.000Z', local: '2026-03-29T04:00:00', counts: funnel({ bounced: 1 }) },
        { start: '2026-03-29T03:00:00.000Z', local: '2026-03-29T05:00:00', counts: funnel({ failed: 1 }) },
      ]);
      const kolkata = await reports.timeSeries(
        TimeSeriesQuery.parse({ scope: { serverIds: [SERVER_B] }, range, bucket: 'hour', timeZone: 'Asia/Kolkata' }),
      );
      assert.deepEqual(kolkata, [
        {
          start: '2026-03-28T22:30:00.000Z',
          local: '2026-03-29T04:00:00',
          counts: funnel({ accepted: 1, delivered: 1, opened: eng(1, 1, [1, 1], [0, 0]) }),
        },
      ]);
    });

    it('time series: minute and week buckets (weeks start on Monday)', async () => {
      const minutes = await reports.timeSeries(
        TimeSeriesQuery.parse({ scope: { serverIds: [SERVER_B] }, range, bucket: 'minute' }),
      );
      assert.deepEqual(
        minutes.map((p) => [p.start, p.counts.accepted, p.counts.delivered, p.counts.opened.total]),
        [
          ['2026-03-28T22:30:00.000Z', 1, 0, 0],
          ['2026-03-28T22:31:00.000Z', 0, 1, 0],
          ['2026-03-28T22:40:00.000Z', 0, 0, 1],
        ],
      );
      const weeks = await reports.timeSeries(
        TimeSeriesQuery.parse({ scope: A, range, bucket: 'week', timeZone: 'Europe/Paris' }),
      );
      assert.deepEqual(weeks, [{ start: '2026-03-22T23:00:00.000Z', local: '2026-03-23T00:00:00', counts: fullA }]);
      const utcWeeks = await reports.timeSeries(
        TimeSeriesQuery.parse({ scope: A, range, bucket: 'week', timeZone: 'UTC' }),
      );
      assert.deepEqual(
        utcWeeks.map((p) => p.start),
        ['2026-03-23T00:00:00.000Z'],
      );
    });

    it('breakdowns by recipient domain, mailbox provider, tag, sending domain, bounce classification and IP', async () => {
      const by = async (dimension: string, extra: Record<string, unknown> = {}) =>
        reports.breakdown(BreakdownQuery.parse({ scope: A, range, dimension, ...extra }));
      const gmail = funnel({
        accepted: 2,
        delivered: 1,
        deferred: 2,
        failed: 1,
        opened: eng(3, 1, [2, 1], [1, 1]),
        clicked: eng(3, 1, [2, 1], [1, 1]),
      });
      assert.deepEqual(await by('recipientDomain'), [
        { key: 'gmail.com', counts: gmail },
        { key: 'example.org', counts: funnel({ accepted: 1, bounced: 1 }) },
        {
          key: 'outlook.com',
          counts: funnel({
            accepted: 1,
            delivered: 1,
            bounced: 1,
            opened: eng(1, 1, [1, 1], [0, 0]),
            clicked: eng(1, 1, [1, 1], [0, 0]),
          }),
        },
      ]);
      assert.deepEqual(await by('mailboxProvider', { orderBy: 'delivered' }), [
        { key: 'google.com', counts: { ...gmail, accepted: 0 } },
        {
          key: 'outlook.com',
          counts: funnel({
            delivered: 1,
            bounced: 1,
            opened: eng(1, 1, [1, 1], [0, 0]),
            clicked: eng(1, 1, [1, 1], [0, 0]),
          }),
        },
        { key: null, counts: funnel({ accepted: 4 }) },
        { key: 'example.org', counts: funnel({ bounced: 1 }) },
      ]);
      assert.deepEqual(
        (await by('tag')).map((r) => [r.key, r.counts.accepted]),
        [
          ['news', 2],
          [null, 1],
          ['promo', 1],
        ],
      );
      assert.deepEqual(
        (await by('sendingDomain')).map((r) => [r.key, r.counts.accepted, r.counts.delivered]),
        [
          ['a.example', 3, 1],
          ['b.example', 1, 1],
        ],
      );
      assert.deepEqual(await by('bounceClassification', { orderBy: 'bounced' }), [
        { key: 'bad-mailbox', counts: funnel({ bounced: 1 }) },
        { key: 'mailbox-full', counts: funnel({ bounced: 1 }) },
      ]);
      assert.deepEqual(await by('ip', { orderBy: 'deferred', limit: 1 }), [
        { key: '192.0.2.1', counts: { ...gmail, accepted: 0 } },
      ]);
      assert.deepEqual(
        (await by('recipientDomain', { orderBy: 'clicked', limit: 2 })).map((r) => r.key),
        ['gmail.com', 'outlook.com'],
      );
    });

    it('top clicked links', async () => {
      const links = await reports.topLinks(TopLinksQuery.parse({ scope: A, range }));
      assert.deepEqual(links, [
        { url: URL1, clicks: eng(3, 2, [3, 2], [0, 0]) },
        { url: URL2, clicks: eng(1, 1, [0, 0], [1, 1]) },
      ]);
      assert.deepEqual(
        (await reports.topLinks(TopLinksQuery.parse({ scope: A, range, limit: 1 }))).map((l) => l.url),
        [URL1],
      );
      assert.deepEqual(await reports.topLinks(TopLinksQuery.parse({ scope: { serverIds: [SERVER_B] }, range })), []);
    });

    it('per-message engagement, only in scope', async () => {
      const m1 = await reports.messageEngagement(MessageEngagementQuery.parse({ scope: A, messageId: '1' }));
      assert.deepEqual(m1, {
        messageId: '1',
        serverId: SERVER_A,
        opened: eng(3, 1, [2, 1], [1, 1]),
        clicked: eng(3, 1, [2, 1], [1, 1]),
        firstOpenedAt: '2026-03-28T23:11:00.000Z',
        lastOpenedAt: '2026-03-29T01:30:00.000Z',
        firstClickedAt: '2026-03-28T23:12:00.000Z',
        lastClickedAt: '2026-03-28T23:26:00.000Z',
        links: [
          { url: URL1, clicks: eng(2, 1, [2, 1], [0, 0]) },
          { url: URL2, clicks: eng(1, 1, [0, 0], [1, 1]) },
        ],
      });
      assert.deepEqual(
        await reports.messageEngagement(MessageEngagementQuery.parse({ scope: { serverIds: null }, messageId: '1' })),
        m1,
      );
      assert.equal(
        await reports.messageEngagement(
          MessageEngagementQuery.parse({ scope: { serverIds: [SERVER_B] }, messageId: '1' }),
        ),
        null,
      );
      assert.equal(await reports.messageEngagement(MessageEngagementQuery.parse({ scope: A, messageId: '999' })), null);
      assert.deepEqual(await reports.messageEngagement(MessageEngagementQuery.parse({ scope: A, messageId: '2' })), {
        messageId: '2',
        serverId: SERVER_A,
        opened: none,
        clicked: none,
        firstOpenedAt: null,
        lastOpenedAt: null,
        firstClickedAt: null,
        lastClickedAt: null,
        links: [],
      });
    });

    it('counts an event delivered twice (at-least-once) once, and picks up new events after', async () => {
      const { events } = await store.readAll('start', 1000, { streamPrefixes: ['message-'] });
      const some = events.filter(
        (e) =>
          ['MessageOpened', 'MessageLinkClicked', 'MessageAccepted'].includes(e.type) && e.streamId === 'message-1',
      );
      assert.ok(some.length >= 5);
      await h.redeliver(some);
      await h.redeliver(events);
      assert.deepEqual(await reports.funnel(q()), fullA);
      assert.deepEqual(await reports.topLinks(TopLinksQuery.parse({ scope: A, range, limit: 1 })), [
        { url: URL1, clicks: eng(3, 2, [3, 2], [0, 0]) },
      ]);
      // a new click after the replay: counted, under the provider of the message's delivery
      const res = await handleMessageCommand(store, '3', {
        type: 'RecordClick',
        url: URL2,
        machine: false,
        at: '2026-03-29T09:00:00.000Z',
      });
      assert.ok(res.ok);
      await h.catchUp();
      assert.deepEqual(
        await reports.funnel(q({ filter: { mailboxProvider: 'outlook.com' } })),
        funnel({ delivered: 1, bounced: 1, opened: eng(1, 1, [1, 1], [0, 0]), clicked: eng(2, 1, [2, 1], [0, 0]) }),
      );
    });

    it('adapter checks', async (t) => {
      if (!h.verify) return t.skip('none for this adapter');
      await h.verify();
    });
  });
}
