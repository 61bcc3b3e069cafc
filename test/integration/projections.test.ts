import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresEventStore, type EventStore } from '../../infra/event-store/index.js';
import { verifyProjection, rebuildProjection, projectionStatus } from '../../projections/maintenance.js';
import { endpointQueueProjection } from '../../projections/inbound/endpoint-queue-projection.js';
import { messageReadModels } from '../../projections/read-models/message-read-models.js';
import { ProjectionRunner, type SinkProjection } from '../../projections/runner.js';
import { START } from '../../infra/event-store/index.js';
import { eventually } from '../helpers/eventually.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';
import { cliPath, runCli } from '../helpers/postlog-process.js';
import { catchUp, run } from '../helpers/projections.js';

const SERVER = '11111111-1111-4111-8111-111111111111';
const day = '2026-03-01';
const at = (minute: number) => `${day}T10:${String(minute).padStart(2, '0')}:00.000Z`;
const delivery = (attempt: number, code: number, minute: number) => ({
  attempt,
  mxHost: 'mx.example.org',
  reply: { code, text: code === 250 ? 'OK' : 'try later' },
  durationMs: 5,
  at: at(minute),
});

async function accept(store: EventStore, id: string, to: string, tag = 'news') {
  const res = await handleMessageCommand(store, id, {
    type: 'Accept',
    message: {
      messageId: id,
      serverId: SERVER,
      batchId: 'b',
      rfcMessageId: `${id}@x`,
      token: 'AbCdEfGh12345678',
      from: 'a@sender.test',
      to,
      subject: `Subject ${id}`,
      tag,
      contentHash: 'c'.repeat(64),
      size: 100,
      source: 'api',
    },
    at: at(0),
  });
  assert.ok(res.ok, JSON.stringify(res));
}

describe('message read models: projection specs, rebuild, verify, leadership', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  before(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ pool: db.pool, connectionString: db.url, logger: testLogger, pollIntervalMs: 50 });
    // given: a delivered message with engagement, a bounced one, a held one
    await accept(store, '1', 'Alice@Example.org');
    await run(store, '1', {
      type: 'RecordDeferral',
      delivery: delivery(1, 451, 1),
      reason: '451 try later',
      nextAttemptAt: at(5),
      at: at(1),
    });
    await run(store, '1', { type: 'RecordDelivery', delivery: delivery(2, 250, 5), at: at(5) });
    await run(store, '1', { type: 'RecordOpen', machine: false, at: at(6) });
    await run(store, '1', { type: 'RecordOpen', machine: false, at: at(7) });
    await run(store, '1', { type: 'RecordClick', url: 'https://example.org/x', machine: false, at: at(8) });
    await accept(store, '2', 'bob@example.net');
    await run(store, '2', {
      type: 'RecordBounce',
      kind: 'sync',
      delivery: delivery(1, 550, 2),
      diagnostic: '550 5.1.1 user unknown',
      classification: 'bad-mailbox',
      suppress: true,
      at: at(2),
    });
    await accept(store, '3', 'carol@example.com', 'other');
    await run(store, '3', { type: 'Hold', reason: 'manual', at: at(3) });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('projects messages, attempts and daily stats', async () => {
    await catchUp(db, store, messageReadModels);
    const { rows } = await db.pool.query(
      'SELECT message_id::int AS id, rcpt_to, status, attempts, opens, clicks, last_reply, bounce_classification, held_reason, tag FROM rm_messages ORDER BY message_id',
    );
    assert.deepEqual(rows, [
      {
        id: 1,
        rcpt_to: 'alice@example.org',
        status: 'delivered',
        attempts: 2,
        opens: 2,
        clicks: 1,
        last_reply: '250 OK',
        bounce_classification: null,
        held_reason: null,
        tag: 'news',
      },
      {
        id: 2,
        rcpt_to: 'bob@example.net',
        status: 'bounced',
        attempts: 1,
        opens: 0,
        clicks: 0,
        last_reply: '550 5.1.1 user unknown',
        bounce_classification: 'bad-mailbox',
        held_reason: null,
        tag: 'news',
      },
      {
        id: 3,
        rcpt_to: 'carol@example.com',
        status: 'held',
        attempts: 0,
        opens: 0,
        clicks: 0,
        last_reply: null,
        bounce_classification: null,
        held_reason: 'manual',
        tag: 'other',
      },
    ]);
    // the status filter's copy (migration 48) follows each message's status
    const statuses = await db.pool.query(
      'SELECT message_id::int AS id, status, direction FROM rm_message_status ORDER BY message_id',
    );
    assert.deepEqual(statuses.rows, [
      { id: 1, status: 'delivered', direction: 'outgoing' },
      { id: 2, status: 'bounced', direction: 'outgoing' },
      { id: 3, status: 'held', direction: 'outgoing' },
    ]);
    const deliveries = await db.pool.query(
      'SELECT message_id::int AS id, attempt, outcome, smtp_code FROM rm_deliveries ORDER BY message_id, attempt',
    );
    assert.deepEqual(deliveries.rows, [
      { id: 1, attempt: 1, outcome: 'deferred', smtp_code: 451 },
      { id: 1, attempt: 2, outcome: 'delivered', smtp_code: 250 },
      { id: 2, attempt: 1, outcome: 'bounced', smtp_code: 550 },
    ]);
    const stats = await db.pool.query(
      `SELECT accepted, held, delivered, deferred, bounced, opened_total, opened_unique, clicked_total, clicked_unique FROM rm_daily_stats WHERE server_id = $1`,
      [SERVER],
    );
    assert.deepEqual(stats.rows, [
      {
        accepted: 3,
        held: 1,
        delivered: 1,
        deferred: 1,
        bounced: 1,
        opened_total: 2,
        opened_unique: 1,
        clicked_total: 1,
        clicked_unique: 1,
      },
    ]);
  });

  it('gives the same rows when applied again from the start (verify), and finds a hand-corrupted row', async () => {
    const clean = await verifyProjection(db.pool, store, messageReadModels);
    assert.equal(clean.ok, true, JSON.stringify(clean.tables));
    await db.pool.query(`UPDATE rm_messages SET status = 'failed' WHERE message_id = 3`);
    const dirty = await verifyProjection(db.pool, store, messageReadModels);
    assert.equal(dirty.ok, false);
    const table = dirty.tables.find((t) => t.table === 'rm_messages')!;
    assert.deepEqual([table.onlyInLive, table.onlyInRebuilt], [1, 1]);
    // the CLI says the same, with exit code 1; a rebuild repairs it
    const env = { ...(process.env as Record<string, string>), POSTLOG_DATABASE_URL: db.url, POSTLOG_LOG_LEVEL: 'warn' };
    const cli = await runCli(['projections', 'verify', 'message-read-models'], env);
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /DIFFERENT/);
    assert.match(cli.stdout, /rm_messages: 3 live rows, 3 rebuilt, 1 only live, 1 only rebuilt/);
    const rebuilt = await runCli(['projections', 'rebuild', 'message-read-models'], env);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.equal((await db.pool.query('SELECT status FROM rm_messages WHERE message_id = 3')).rows[0].status, 'held');
    assert.equal((await runCli(['projections', 'verify'], env)).code, 0);
    const status = await runCli(['projections', 'status', '--json'], env);
    assert.equal(
      JSON.parse(status.stdout).find((s: { name: string }) => s.name === 'message-read-models').lagEvents,
      0,
    );
    void cliPath;
  });

  it("a rebuild keeps the live tables' statistics targets, indexes and storage parameters", async () => {
    const subject = async () => {
      const { rows } = await db.pool.query<{ target: number | null; indexes: string[]; options: string[] | null }>(
        `SELECT (SELECT attstattarget FROM pg_attribute WHERE attrelid = 'rm_messages'::regclass AND attname = 'subject')
                  AS target,
                (SELECT array_agg(regexp_replace(indexdef, '^.* USING ', '') ORDER BY indexdef) FROM pg_indexes
                  WHERE tablename = 'rm_messages') AS indexes,
                (SELECT reloptions FROM pg_class WHERE oid = 'rm_messages'::regclass) AS options`,
      );
      return rows[0]!;
    };
    const before = await subject();
    assert.equal(before.target, 1000, 'migration 20, kept by the rebuild of the test before');
    assert.ok(before.indexes.includes('gin (subject gin_trgm_ops)'), before.indexes.join(', '));
    assert.deepEqual(before.options, ['fillfactor=70'], 'migration 48: room for HOT updates');
    await rebuildProjection(db.pool, store, messageReadModels);
    assert.deepEqual(await subject(), before);
  });

  it('prints a message timeline with the state after each event (postlog replay)', async () => {
    const env = { ...(process.env as Record<string, string>), POSTLOG_DATABASE_URL: db.url, POSTLOG_LOG_LEVEL: 'warn' };
    const out = await runCli(['replay', 'message', '1'], env);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trim().split('\n');
    assert.equal(lines.length, 7);
    assert.match(lines[0]!, /MessageAccepted\s+→ accepted/);
    assert.match(lines[2]!, /MessageDeferred\s+→ deferred\s+attempts 1/);
    assert.match(lines[3]!, /MessageDelivered\s+→ delivered\s+attempts 2/);
    assert.equal((await runCli(['replay', 'message', '999'], env)).code, 1);
  });

  it('runs in exactly one runner at a time, and another takes over when the leader dies', async () => {
    const other = new PostgresEventStore({
      pool: db.newPool(),
      connectionString: db.url,
      logger: testLogger,
      pollIntervalMs: 50,
    });
    const a = new ProjectionRunner(messageReadModels, {
      pool: db.pool,
      connectionString: db.url,
      eventStore: store,
      logger: testLogger,
      standbyRetryMs: 100,
    });
    const b = new ProjectionRunner(messageReadModels, {
      pool: db.pool,
      connectionString: db.url,
      eventStore: other,
      logger: testLogger,
      standbyRetryMs: 100,
    });
    a.start();
    await new Promise((r) => setTimeout(r, 300));
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual([a.leader, b.leader], [true, false]);
    await a.stop(); // its lock connection closes, as it would when its process dies
    await accept(store, '4', 'dave@example.org');
    const deadline = Date.now() + 5000;
    while (
      Date.now() < deadline &&
      (await db.pool.query('SELECT 1 FROM rm_messages WHERE message_id = 4')).rowCount === 0
    )
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.leader, true);
    assert.equal(
      (await db.pool.query('SELECT status FROM rm_messages WHERE message_id = 4')).rows[0]?.status,
      'queued',
    );
    await b.stop();
    await other.close();
    void rebuildProjection;
  });

  it('verifies a lagging projection at its own checkpoint, not at the head of the log', async () => {
    // no runner is running now: these events are in the log but not in the read model
    await accept(store, '5', 'erin@example.org');
    await run(store, '5', { type: 'Hold', reason: 'manual', at: at(9) });
    const [before] = await projectionStatus(db.pool, [messageReadModels.name]);
    assert.ok((before?.lagEvents ?? 0) >= 2, JSON.stringify(before));
    const report = await verifyProjection(db.pool, store, messageReadModels);
    assert.equal(report.ok, true, JSON.stringify(report.tables));
    const { rows } = await db.pool.query('SELECT checkpoint FROM projection_checkpoints WHERE name = $1', [
      messageReadModels.name,
    ]);
    assert.equal(report.checkpoint, rows[0].checkpoint, 'compared at the live checkpoint');
    await catchUp(db, store, messageReadModels);
  });

  it('a projection of events the log does not hold (no inbound mail yet) keeps its checkpoint at the head', async () => {
    // it reads only inbound streams: before, its checkpoint stayed at the start and each of its reads
    // looked through the whole log of outbound mail again
    await catchUp(db, store, endpointQueueProjection);
    await accept(store, '6', 'frank@example.org');
    await catchUp(db, store, endpointQueueProjection);
    const [status] = await projectionStatus(db.pool, [endpointQueueProjection.name]);
    assert.equal(status?.lagEvents, 0, JSON.stringify(status));
  });
});

describe('sink projections (Kafka, ClickHouse): at-least-once, checkpoint after the acknowledgement', () => {
  it('repeats a batch the sink failed, never skips one, and resumes after the last acknowledged batch', async () => {
    const db = await createTestDatabase();
    const store = new PostgresEventStore({
      pool: db.pool,
      connectionString: db.url,
      logger: testLogger,
      pollIntervalMs: 50,
    });
    try {
      for (const id of ['s1', 's2', 's3']) await accept(store, id, `${id}@example.org`);
      const seen: string[] = [];
      let failuresLeft = 1;
      const sink: SinkProjection = {
        name: 'test-sink',
        version: 1,
        batchSize: 2,
        async deliver(events) {
          if (failuresLeft-- > 0) throw new Error('broker unavailable');
          seen.push(...events.map((e) => e.eventId));
        },
      };
      const runner = new ProjectionRunner(sink, {
        pool: db.pool,
        connectionString: db.url,
        eventStore: store,
        logger: testLogger,
      });
      runner.start();
      const head = (await store.readAll(START, 1000)).events;
      await eventually(
        async () => (seen.length >= head.length ? true : undefined),
        () => `the sink to receive every event (has ${seen.length} of ${head.length})`,
        { timeoutMs: 15_000, intervalMs: 50 },
      );
      await runner.stop();
      assert.deepEqual(
        seen,
        head.map((e) => e.eventId),
        'every event once, in log order, after the failed batch was retried',
      );
      const [status] = await projectionStatus(db.pool, ['test-sink']);
      assert.equal(status?.position, head[head.length - 1]!.position);

      // a new runner starts after the acknowledged checkpoint: only new events arrive
      await accept(store, 's4', 's4@example.org');
      const all = (await store.readAll(START, 1000)).events;
      const again = new ProjectionRunner(sink, {
        pool: db.pool,
        connectionString: db.url,
        eventStore: store,
        logger: testLogger,
      });
      again.start();
      await eventually(
        async () => (seen.length >= all.length ? true : undefined),
        () => `the new events to arrive (${seen.length} of ${all.length})`,
        { timeoutMs: 15_000, intervalMs: 50 },
      );
      await again.stop();
      assert.deepEqual(
        seen,
        all.map((e) => e.eventId),
        'only the events after the checkpoint, once each',
      );

      // a projection of some event types is not behind because of events of other types
      const accepted: SinkProjection = { ...sink, name: 'accepted-only', filter: { types: ['MessageAccepted'] } };
      const typed = new ProjectionRunner(accepted, {
        pool: db.pool,
        connectionString: db.url,
        eventStore: store,
        logger: testLogger,
      });
      const acceptedCount = all.filter((e) => e.type === 'MessageAccepted').length;
      const before = seen.length;
      typed.start();
      await eventually(
        async () => (seen.length >= before + acceptedCount ? true : undefined),
        () => 'the accepted events to arrive',
        { timeoutMs: 15_000, intervalMs: 50 },
      );
      await typed.stop();
      await run(store, 's4', { type: 'Hold', reason: 'manual', at: at(9) });
      const [plain] = await projectionStatus(db.pool, ['accepted-only']);
      const [filtered] = await projectionStatus(db.pool, ['accepted-only'], store, {
        'accepted-only': accepted.filter,
      });
      assert.ok((plain?.lagEvents ?? 0) > 0, 'by position alone it looks behind');
      assert.equal(filtered?.lagEvents, 0, JSON.stringify(filtered));
      assert.equal(filtered?.lagSeconds, 0);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
