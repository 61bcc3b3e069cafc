import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { syntheticEventBatches, syntheticServerId } from '../../bench/synthetic-events.js';
import { createClickHouse, ClickHouseError, type ClickHouse } from '../../infra/clickhouse/client.js';
import { auditFunnelQuery, funnelQuery, timeSeriesQuery } from '../helpers/clickhouse-queries.js';
import { EVENTS_TABLE, eventColumns, insertEvents, type EventRow } from '../../infra/clickhouse/events-table.js';
import { migrateClickHouse } from '../../infra/clickhouse/migrations.js';
import { clickhouseMigrations, type ClickHouseMigration } from '../../infra/clickhouse/migrations-list.js';
import { sql } from '../../infra/clickhouse/sql.js';
import { createLogger } from '../../infra/logging/index.js';
import { clickhouseSkipReason, startClickHouse, type ClickHouseServer } from '../helpers/clickhouse.js';

const logger = createLogger({ level: 'silent', format: 'json' });
const count = z.object({ n: z.number() });

describe('ClickHouse 18.16: server helper, migrations, events table', { skip: clickhouseSkipReason() }, () => {
  let server: ClickHouseServer;
  let ch: ClickHouse;

  before(async () => {
    server = await startClickHouse();
    ch = createClickHouse({ url: server.url, database: 'postlog' });
  });
  after(async () => {
    await ch?.close();
    await server?.stop();
  });

  it('the helper starts a private 18.16 server on loopback within seconds', async () => {
    assert.ok(server.startupMs < 10_000, `started in ${server.startupMs} ms`);
    assert.equal(await ch.ping(), true);
    const [info] = await ch.query(
      sql`SELECT version() AS version, timezone() AS tz`,
      z.object({ version: z.string(), tz: z.string() }),
    );
    assert.match(info!.version, /^18\.16\./);
    assert.match(info!.tz, /UTC/);
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('applies the migrations once, and a second run (and a concurrent one) changes nothing', async () => {
    const first = await migrateClickHouse(ch, logger);
    assert.deepEqual(
      first.applied,
      clickhouseMigrations.map((m) => m.version),
    );
    const again = await migrateClickHouse(ch, logger);
    assert.deepEqual(again.applied, []);
    assert.equal(again.current, first.current);

    // Two processes starting at once on a fresh database: both finish, the schema is whole, and
    // each version counts once.
    const other = createClickHouse({ url: server.url, database: 'postlog_race' });
    const racers = [other, createClickHouse({ url: server.url, database: 'postlog_race' })];
    try {
      const reports = await Promise.all(racers.map((c) => migrateClickHouse(c, logger)));
      assert.ok(reports.every((r) => r.current === first.current));
      const versions = await other.query(
        sql`SELECT DISTINCT version FROM ${other.table('schema_migrations')} ORDER BY version`,
        z.object({ version: z.number() }),
      );
      assert.deepEqual(
        versions.map((v) => v.version),
        clickhouseMigrations.map((m) => m.version),
      );
      const tables = await other.query(
        sql`SELECT name FROM system.tables WHERE database = ${'postlog_race'} ORDER BY name`,
        z.object({ name: z.string() }),
      );
      assert.deepEqual(
        tables.map((t) => t.name),
        ['events', 'schema_migrations'],
      );
    } finally {
      await Promise.all(racers.map((c) => c.close()));
    }
  });

  it('a migration that crashed half-way runs again to the end; a newer schema is refused', async () => {
    const db = createClickHouse({ url: server.url, database: 'postlog_retry' });
    try {
      const table = db.table('t').text;
      const flaky: ClickHouseMigration = {
        version: 1,
        name: 'two steps',
        statements: () => [
          `CREATE TABLE IF NOT EXISTS ${table} (x UInt8) ENGINE = MergeTree() ORDER BY x`,
          `ALTER TABLE ${table} ADD COLUMN y String`,
          'SELECT throwIf(1)',
        ],
      };
      await assert.rejects(migrateClickHouse(db, logger, [flaky]), /migration 1 \(two steps\) failed at statement 3/);
      // the fixed migration re-runs the statements that already ran: "column already exists" counts as done
      const fixed = { ...flaky, statements: () => flaky.statements('').slice(0, 2) };
      assert.deepEqual((await migrateClickHouse(db, logger, [fixed])).applied, [1]);
      const columns = await db.query(sql`DESCRIBE TABLE ${db.table('t')}`, z.object({ name: z.string() }));
      assert.deepEqual(
        columns.map((c) => c.name),
        ['x', 'y'],
      );
      await assert.rejects(migrateClickHouse(db, logger, []), /newer than this Postlog knows/);
    } finally {
      await db.close();
    }
  });

  it("the RowBinary column list matches the migrated table's columns and types", async () => {
    const described = await ch.query(
      sql`DESCRIBE TABLE ${ch.table(EVENTS_TABLE)}`,
      z.object({ name: z.string(), type: z.string() }),
    );
    assert.deepEqual(
      described.map((c) => [c.name, c.type]),
      eventColumns.map((c) => [c.name, c.type === 'DateTime' ? "DateTime('UTC')" : c.type]),
    );
  });

  it('inserts event rows and reads them back column for column', async () => {
    const [batch] = syntheticEventBatches({ events: 1000, batchSize: 1000, seed: 7 });
    const rows = batch!;
    // one row with every optional dimension set, and hostile text in it
    rows[0] = {
      ...rows[0]!,
      tag: "it's a \\ tag\n",
      url: 'https://x.example/?q=\'"',
      bounce_classification: 'bad-mailbox',
      machine: 1,
      smtp_code: 550,
      enhanced_code: '5.1.1',
    };
    assert.deepEqual(await insertEvents(ch, rows), { inserted: 1000, skipped: 0 });
    const back =
      await ch.query(sql`SELECT toString(event_id) AS event_id, position, event_type, toUnixTimestamp(event_time) AS event_time, server_id, message_id,
        recipient_domain, mailbox_provider, sending_domain, tag, ip, bounce_classification, url, machine, smtp_code, enhanced_code, attempt, seconds_since_accepted
      FROM ${ch.table(EVENTS_TABLE)} ORDER BY position`);
    assert.deepEqual(back, rows);
  });

  it('an event delivered twice counts once: insertEvents skips what is there, merges and FINAL drop copies', async () => {
    const scope = {
      database: 'postlog',
      serverIds: [syntheticServerId(0)],
      from: new Date('2026-01-01T00:00:00Z'),
      to: new Date('2027-01-01T00:00:00Z'),
    };
    const types = ['MessageAccepted', 'MessageDelivered', 'MessageOpened', 'MessageLinkClicked'];
    const before = await ch.query(funnelQuery(scope, types));
    const [all] = await ch.query(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)}`, count);

    // A replay after a crash: the batch since the checkpoint comes again, with some new events.
    const [replayed] = syntheticEventBatches({ events: 1000, batchSize: 1000, seed: 7 });
    const [fresh] = syntheticEventBatches({ events: 100, batchSize: 100, seed: 8 });
    const newRows = fresh!.map(
      (r, i): EventRow => ({
        ...r,
        event_id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
        position: 100_000 + i,
      }),
    );
    const result = await insertEvents(ch, [...replayed!, ...newRows], { mayExist: true });
    assert.deepEqual(result, { inserted: 100, skipped: 1000 });
    const [afterReplay] = await ch.query(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)}`, count);
    assert.equal(afterReplay!.n, all!.n + 100);

    // A copy that got in anyway (plain insert of events already there): count() sees it until the
    // merge (held off here, so a quick background merge cannot make this test flaky)…
    await ch.command(sql`SYSTEM STOP MERGES ${ch.table(EVENTS_TABLE)}`);
    await ch.insert(EVENTS_TABLE, replayed!);
    const [withCopies] = await ch.query(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)}`, count);
    assert.equal(withCopies!.n, all!.n + 100 + 1000);
    // …FINAL and distinct ids never do…
    const [final] = await ch.query(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)} FINAL`, count);
    assert.equal(final!.n, all!.n + 100);
    const [distinct] = await ch.query(sql`SELECT uniqExact(event_id) AS n FROM ${ch.table(EVENTS_TABLE)}`, count);
    assert.equal(distinct!.n, all!.n + 100);
    const newFunnel = await ch.query(funnelQuery(scope, types));
    const audit = await ch.query(auditFunnelQuery(scope, types));
    // distinct messages (opens, clicks) are immune to copies
    const messagesOf = (rows: Record<string, unknown>[]) => rows.map((r) => [r.event_type, r.messages]);
    assert.deepEqual(
      messagesOf(newFunnel).filter(([t]) => t === 'MessageOpened' || t === 'MessageLinkClicked'),
      messagesOf(audit).filter(([t]) => t === 'MessageOpened' || t === 'MessageLinkClicked'),
    );
    // …and the ReplacingMergeTree merge removes the copies for good.
    await ch.command(sql`SYSTEM START MERGES ${ch.table(EVENTS_TABLE)}`);
    await ch.command(sql`OPTIMIZE TABLE ${ch.table(EVENTS_TABLE)} FINAL`);
    const [merged] = await ch.query(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)}`, count);
    assert.equal(merged!.n, all!.n + 100);
    const afterMerge = await ch.query(funnelQuery(scope, types));
    const freshForServer = newRows.filter((r) => r.server_id === scope.serverIds[0] && types.includes(r.event_type));
    const eventsOf = (rows: Record<string, unknown>[]) => Object.fromEntries(rows.map((r) => [r.event_type, r.events]));
    const expected = eventsOf(before);
    for (const r of freshForServer) expected[r.event_type] = Number(expected[r.event_type] ?? 0) + 1;
    assert.deepEqual(eventsOf(afterMerge), expected);
    assert.deepEqual(eventsOf(afterMerge), eventsOf(audit));
  });

  it('time series buckets count each event once per hour and type', async () => {
    const rows = await ch.query(
      timeSeriesQuery(
        {
          database: 'postlog',
          serverIds: [syntheticServerId(0)],
          from: new Date('2026-01-01T00:00:00Z'),
          to: new Date('2027-01-01T00:00:00Z'),
        },
        'day',
        ['MessageAccepted'],
      ),
      z.object({ bucket: z.string(), event_type: z.literal('MessageAccepted'), events: z.number() }),
    );
    const [total] = await ch.query(
      sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)} FINAL WHERE server_id = ${syntheticServerId(0)} AND event_type = ${'MessageAccepted'}`,
      count,
    );
    assert.ok(rows.length > 1);
    assert.equal(
      rows.reduce((sum, r) => sum + r.events, 0),
      total!.n,
    );
    assert.ok(rows.every((r) => /^\d{4}-\d{2}-\d{2} 00:00:00$/.test(r.bucket)));
  });

  it("buckets and time ranges are UTC whatever the server's time zone", async () => {
    const kolkata = await startClickHouse({ timezone: 'Asia/Kolkata' }); // +05:30: days and hours both shift
    const db = createClickHouse({ url: kolkata.url, database: 'postlog' });
    try {
      await migrateClickHouse(db, logger);
      const [batch] = syntheticEventBatches({ events: 2000, batchSize: 2000, seed: 11 });
      await insertEvents(db, batch!);
      const scope = {
        database: 'postlog',
        serverIds: [syntheticServerId(0)],
        from: new Date('2026-10-10T00:00:00Z'),
        to: new Date('2026-10-20T00:00:00Z'),
      };
      for (const interval of ['hour', 'day'] as const) {
        const rows = await db.query(
          timeSeriesQuery(scope, interval, ['MessageAccepted']),
          z.object({ bucket: z.string(), events: z.number() }),
        );
        const expected = new Map<string, number>();
        for (const r of batch!) {
          const at = r.event_time * 1000;
          if (
            r.server_id !== scope.serverIds[0] ||
            r.event_type !== 'MessageAccepted' ||
            at < scope.from.getTime() ||
            at >= scope.to.getTime()
          )
            continue;
          const iso = new Date(at).toISOString();
          const bucket =
            interval === 'hour' ? `${iso.slice(0, 10)} ${iso.slice(11, 13)}:00:00` : `${iso.slice(0, 10)} 00:00:00`;
          expected.set(bucket, (expected.get(bucket) ?? 0) + 1);
        }
        assert.ok(expected.size > 1);
        assert.deepEqual(
          Object.fromEntries(rows.map((r) => [r.bucket, r.events])),
          Object.fromEntries([...expected].sort()),
        );
      }
    } finally {
      await db.close();
      await kolkata.stop();
    }
  });

  it('ping checks the credentials, and a wrong password is a coded error', async () => {
    const locked = await startClickHouse({ password: 's3cret<&>' });
    const good = createClickHouse({ url: locked.url, database: 'postlog', password: 's3cret<&>' });
    const bad = createClickHouse({ url: locked.url, database: 'postlog', password: 'wrong' });
    try {
      assert.equal(await good.ping(), true);
      assert.equal(await bad.ping(), false);
      await assert.rejects(bad.query('SELECT 1'), (e) => e instanceof ClickHouseError && e.code === 193);
    } finally {
      await good.close();
      await bad.close();
      await locked.stop();
    }
  });

  it('errors carry ClickHouse codes, and rows survive a crash of the server', async () => {
    await assert.rejects(
      ch.query(sql`SELECT nope FROM ${ch.table(EVENTS_TABLE)}`),
      (e) => e instanceof ClickHouseError && e.code === 47,
    );
    await assert.rejects(ch.command('CREATE TABLE nonsense'), (e) => e instanceof ClickHouseError && e.code === 62);
    const [before] = await ch.query(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)}`, count);
    const restartMs = await server.crashAndRestart();
    assert.ok(restartMs < 10_000);
    const [after] = await ch.query(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)}`, count);
    assert.equal(after!.n, before!.n);
  });
});
