import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { handleMessageCommand } from '../../write-side/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { clickhouseSkipReason, startClickHouse, type ClickHouseServer } from '../helpers/clickhouse.js';
import { eventually } from '../helpers/eventually.js';

/** With POSTLOG_CLICKHOUSE_URL set, the projector fills ClickHouse and /graphql answers from it. */
describe('analytics over GraphQL from ClickHouse (POSTLOG_CLICKHOUSE_URL)', { skip: clickhouseSkipReason() }, () => {
  let clickhouse: ClickHouseServer;
  let t: TestApp;
  let a: Tenant;
  before(async () => {
    // a server in another time zone: nothing may depend on it
    clickhouse = await startClickHouse({ timezone: 'America/Los_Angeles' });
    t = await startTestApp({
      POSTLOG_ROLES: 'api,projector,graphql',
      POSTLOG_CLICKHOUSE_URL: clickhouse.url,
      POSTLOG_CLICKHOUSE_DATABASE: 'analytics_e2e',
    });
    a = await createTenant(t.app);
  });
  after(async () => {
    await t?.stop();
    await clickhouse?.stop();
  });

  it('projects the log into ClickHouse (schema migrated on the way) and answers the reports from there', async () => {
    const store = t.app.eventStore;
    const run = async (id: string, command: Parameters<typeof handleMessageCommand>[2]) =>
      assert.ok((await handleMessageCommand(store, id, command)).ok);
    for (const id of ['900001', '900002']) {
      await run(id, {
        type: 'Accept',
        message: {
          messageId: id,
          serverId: a.server.id,
          batchId: 'b',
          rfcMessageId: `${id}@x`,
          token: 'AbCdEfGh12345678',
          from: 'app@sender.test',
          to: `r${id}@gmail.com`,
          subject: 's',
          tag: 'e2e',
          contentHash: 'c'.repeat(64),
          size: 1,
          source: 'api',
        },
        at: '2026-05-01T10:00:00.000Z',
      });
    }
    await run('900001', {
      type: 'RecordDelivery',
      delivery: {
        attempt: 1,
        mxHost: 'gmail-smtp-in.l.google.com',
        localIp: '192.0.2.5',
        reply: { code: 250, text: 'OK' },
        durationMs: 3,
        at: '2026-05-01T10:01:00.000Z',
      },
      at: '2026-05-01T10:01:00.000Z',
    });
    await run('900001', { type: 'RecordOpen', machine: false, at: '2026-05-01T23:30:00.000Z' });
    await run('900001', { type: 'RecordOpen', machine: true, at: '2026-05-01T23:31:00.000Z' });

    const query = `{
      funnel(from: "2026-05-01T00:00:00Z", to: "2026-05-03T00:00:00Z") { accepted delivered opened { total unique human { total } machine { total } } }
      timeSeries(from: "2026-05-01T00:00:00Z", to: "2026-05-03T00:00:00Z", bucket: DAY, timeZone: "Europe/Berlin") { start local counts { accepted opened { total } } }
      breakdown(from: "2026-05-01T00:00:00Z", to: "2026-05-03T00:00:00Z", by: MAILBOX_PROVIDER, orderBy: DELIVERED) { key counts { delivered opened { total } } }
    }`;
    const data = await eventually(
      async () => {
        const res = await http(t.url, 'POST', '/graphql', {
          body: { query },
          headers: { 'X-Server-API-Key': a.apiKey },
        });
        return res.body.data?.funnel?.opened.total === 2 ? res.body.data : undefined;
      },
      () => 'ClickHouse never showed the two opens',
    );
    assert.deepEqual(data.funnel, {
      accepted: 2,
      delivered: 1,
      opened: { total: 2, unique: 1, human: { total: 1 }, machine: { total: 1 } },
    });
    // 23:30Z is already the 2nd in Berlin (UTC+2 in May)
    assert.deepEqual(data.timeSeries, [
      {
        start: '2026-04-30T22:00:00.000Z',
        local: '2026-05-01T00:00:00',
        counts: { accepted: 2, opened: { total: 0 } },
      },
      {
        start: '2026-05-01T22:00:00.000Z',
        local: '2026-05-02T00:00:00',
        counts: { accepted: 0, opened: { total: 2 } },
      },
    ]);
    assert.deepEqual(data.breakdown, [
      { key: 'google.com', counts: { delivered: 1, opened: { total: 2 } } },
      { key: null, counts: { delivered: 0, opened: { total: 0 } } },
    ]);
    // the answer came from ClickHouse: the embedded analytics tables were never filled
    assert.equal((await t.db.pool.query('SELECT count(*)::int AS n FROM analytics_events')).rows[0].n, 0);
    const checkpoint = await t.db.pool.query(
      `SELECT position FROM projection_checkpoints WHERE name = 'clickhouse-analytics'`,
    );
    assert.equal(checkpoint.rowCount, 1);
  });
});
