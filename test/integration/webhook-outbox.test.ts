import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateServer, deliveryId, systemActor } from '../../domain/index.js';
import { PostgresEventStore } from '../../infra/event-store/index.js';
import { TenancyStore } from '../../infra/tenancy/index.js';
import { WebhookStore } from '../../infra/webhooks/index.js';
import { liveTables } from '../../projections/runner.js';
import { webhookOutboxProjection } from '../../projections/webhooks/webhook-outbox-projection.js';
import { handleIncomingCommand } from '../../write-side/incoming/incoming-command-handler.js';
import { createTestDatabase, testLogger, testSecretBox, type TestDatabase } from '../helpers/database.js';
import { catchUp, run } from '../helpers/projections.js';

const now = () => new Date().toISOString();

/** What a version change does: the checkpoint goes back to the start of the log. */
const replayFromStart = (db: TestDatabase) =>
  db.pool.query(`UPDATE projection_checkpoints SET version = 0, position = NULL WHERE name = 'webhook-outbox'`);

describe('webhook outbox projection: one row per matching endpoint and event, exactly once', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let webhooks: WebhookStore;
  let serverId: string;
  let otherServerId: string;
  const rows = async (endpointId: string) =>
    (
      await db.pool.query(
        'SELECT id, event_id, webhook_event, body, status FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY stream_id, stream_revision',
        [endpointId],
      )
    ).rows;
  const accept = (id: string, server = serverId) =>
    run(store, id, {
      type: 'Accept',
      message: {
        messageId: id,
        serverId: server,
        batchId: 'b',
        rfcMessageId: `${id}@x`,
        token: 'AbCdEfGh12345678',
        from: 'a@sender.test',
        to: `r${id}@example.org`,
        subject: `Subject ${id}`,
        tag: 'news',
        metadata: { order: id },
        contentHash: 'c'.repeat(64),
        size: 100,
        source: 'api',
      },
      at: now(),
    });

  before(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ pool: db.pool, connectionString: db.url, logger: testLogger, pollIntervalMs: 50 });
    const tenancy = new TenancyStore(
      db.pool,
      { spfInclude: 'spf.test', returnPathTarget: 'rp.test', trackTarget: 'track.test' },
      testSecretBox(),
    );
    const org = await tenancy.createOrganization(systemActor('test'), { name: 'Org' });
    assert.ok(org.ok);
    const server = await tenancy.createServer(
      systemActor('test'),
      org.value.id,
      CreateServer.parse({ name: 'S', mode: 'live' }),
    );
    const other = await tenancy.createServer(
      systemActor('test'),
      org.value.id,
      CreateServer.parse({ name: 'Other', mode: 'live' }),
    );
    assert.ok(server.ok && other.ok);
    serverId = server.value.id;
    otherServerId = other.value.id;
    webhooks = new WebhookStore(db.pool, testSecretBox());
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('queues webhook events for the endpoints that want them, and a replay adds nothing', async () => {
    const all = (
      await webhooks.create(serverId, { url: 'https://a.example/h', description: '', events: null, enabled: true })
    ).endpoint;
    const clicks = (
      await webhooks.create(serverId, {
        url: 'https://b.example/h',
        description: '',
        events: ['MessageLinkClicked'],
        enabled: true,
      })
    ).endpoint;
    const disabled = (
      await webhooks.create(serverId, { url: 'https://c.example/h', description: '', events: null, enabled: false })
    ).endpoint;
    const elsewhere = (
      await webhooks.create(otherServerId, { url: 'https://d.example/h', description: '', events: null, enabled: true })
    ).endpoint;
    await accept('1');
    await run(store, '1', {
      type: 'RecordDelivery',
      delivery: { attempt: 1, mxHost: 'mx.example.org', reply: { code: 250, text: 'OK' }, durationMs: 5, at: now() },
      at: now(),
    });
    await run(store, '1', { type: 'RecordOpen', machine: false, ip: '192.0.2.1', userAgent: 'Mail', at: now() });
    await run(store, '1', { type: 'RecordClick', url: 'https://example.org/x', machine: false, at: now() });
    await run(store, '1', { type: 'RecordComplaint', feedbackType: 'abuse', at: now() });
    await accept('2');
    await run(store, '2', { type: 'Hold', reason: 'manual', at: now() });
    await catchUp(db, store, webhookOutboxProjection({ maxAgeHours: 24 }));

    const mine = await rows(all.id);
    assert.deepEqual(
      mine.map((r) => r.webhook_event),
      ['MessageSent', 'MessageLoaded', 'MessageLinkClicked', 'MessageComplained', 'MessageHeld'],
    );
    for (const r of mine) {
      const body = JSON.parse(r.body);
      assert.equal(body.uuid, r.id);
      assert.equal(r.id, deliveryId(all.id, r.event_id));
      assert.equal(body.event, r.webhook_event);
    }
    const sent = JSON.parse(mine[0]!.body);
    assert.equal(sent.payload.message.id, 1);
    assert.equal(sent.payload.message.subject, 'Subject 1');
    assert.deepEqual(sent.payload.message.metadata, { order: '1' });
    assert.deepEqual(
      (await rows(clicks.id)).map((r) => r.webhook_event),
      ['MessageLinkClicked'],
    );
    assert.equal((await rows(disabled.id)).length, 0);
    assert.equal((await rows(elsewhere.id)).length, 0, "another server's endpoint hears nothing of this server's mail");

    // a delivered row stays delivered, and nothing is queued twice, when the projection replays the log
    await db.pool.query(`UPDATE webhook_deliveries SET status = 'delivered' WHERE id = $1`, [mine[0]!.id]);
    const late = (
      await webhooks.create(serverId, { url: 'https://e.example/h', description: '', events: null, enabled: true })
    ).endpoint;
    await replayFromStart(db);
    await catchUp(db, store, webhookOutboxProjection({ maxAgeHours: 24 }));
    const again = await rows(all.id);
    assert.deepEqual(
      again.map((r) => r.id),
      mine.map((r) => r.id),
    );
    assert.equal(again[0]!.status, 'delivered');
    assert.equal(
      (await rows(late.id)).length,
      0,
      'an endpoint hears of events recorded after it was created, not of history',
    );
  });

  it('never queues events older than the give-up age (a replay long after)', async () => {
    const endpoint = (
      await webhooks.create(serverId, { url: 'https://f.example/h', description: '', events: null, enabled: true })
    ).endpoint;
    await accept('3');
    await run(store, '3', { type: 'Hold', reason: 'manual', at: now() });
    await new Promise((r) => setTimeout(r, 600));
    await replayFromStart(db);
    await catchUp(db, store, webhookOutboxProjection({ maxAgeHours: 0.0001 }));
    assert.equal((await rows(endpoint.id)).length, 0);
    await replayFromStart(db);
    await catchUp(db, store, webhookOutboxProjection({ maxAgeHours: 24 }));
    assert.deepEqual(
      (await rows(endpoint.id)).map((r) => r.webhook_event),
      ['MessageHeld'],
    );
  });

  it('MessageReceived carries the IncomingScanned verdict, also when a batch ends between the two events', async () => {
    const endpoint = (
      await webhooks.create(serverId, {
        url: 'https://g.example/h',
        description: '',
        events: ['MessageReceived'],
        enabled: true,
      })
    ).endpoint;
    const receive = (id: string) =>
      handleIncomingCommand(store, id, {
        type: 'Receive',
        message: {
          messageId: id,
          serverId,
          routeId: 'route-1',
          token: 'AbCdEfGh12345678',
          rfcMessageId: `${id}@x`,
          mailFrom: 'someone@example.org',
          rcptTo: 'support@sender.test',
          from: 'someone@example.org',
          subject: 'Buy',
          contentHash: 'c'.repeat(64),
          size: 100,
          clientIp: '192.0.2.1',
          helo: 'mx.example.org',
          tls: false,
        },
        scan: { scanners: ['spamassassin'], spamStatus: 'Spam', spamScore: 1000, spamThreshold: 5 },
        disposition: { kind: 'store' },
        at: now(),
      });
    assert.ok((await receive('901')).ok);
    assert.ok((await receive('902')).ok);
    const events = [...(await store.readStream('incoming-901')), ...(await store.readStream('incoming-902'))];
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'IncomingReceived',
        'IncomingScanned',
        'IncomingStored',
        'IncomingReceived',
        'IncomingScanned',
        'IncomingStored',
      ],
    );
    const verdicts = async () =>
      (await rows(endpoint.id)).map((r) => {
        const payload = JSON.parse(r.body).payload;
        return [payload.message.id, payload.spam_status, payload.spam_score];
      });
    const apply = async (projection: ReturnType<typeof webhookOutboxProjection>, batches: (typeof events)[]) => {
      for (const batch of batches) {
        const client = await db.pool.connect();
        try {
          await client.query('BEGIN');
          await projection.apply(client, batch, liveTables);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }
    };
    // 901: one batch; 902: the batch ends right after its IncomingReceived
    const withStore = webhookOutboxProjection({ maxAgeHours: 24, readStream: (id) => store.readStream(id) });
    await apply(withStore, [events.slice(0, 4), events.slice(4)]);
    assert.deepEqual(await verdicts(), [
      [901, 'Spam', 1000],
      [902, 'Spam', 1000],
    ]);
    // without the log to read, the split message's webhook could not know (what the store is there for)
    await db.pool.query('DELETE FROM webhook_deliveries WHERE endpoint_id = $1', [endpoint.id]);
    await apply(webhookOutboxProjection({ maxAgeHours: 24 }), [events.slice(0, 4), events.slice(4)]);
    assert.deepEqual(
      (await verdicts()).find(([id]) => id === 902),
      [902, 'NotChecked', null],
    );
  });
});
