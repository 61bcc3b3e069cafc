import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateServer, deliveryId, systemActor } from '../../domain/index.js';
import { createJsonPoster } from '../../infra/http/outbound.js';
import { createMetrics } from '../../infra/metrics/index.js';
import { TenancyStore } from '../../infra/tenancy/index.js';
import { SigningKeys, WebhookOutbox, WebhookStore } from '../../infra/webhooks/index.js';
import { WebhookDispatcher } from '../../projections/webhooks/webhook-dispatcher.js';
import { createTestDatabase, testLogger, testSecretBox, type TestDatabase } from '../helpers/database.js';
import { eventually } from '../helpers/eventually.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

describe('webhook dispatchers in two processes share one outbox', () => {
  let db: TestDatabase;
  let receiver: WebhookReceiver;
  const dispatchers: WebhookDispatcher[] = [];
  const metrics = [createMetrics(), createMetrics()];
  // one key for every process of the test, as the processes of one Postlog share it
  const secrets = testSecretBox();

  const startDispatcher = (m = createMetrics()) => {
    const d = new WebhookDispatcher({
      outbox: new WebhookOutbox(db.newPool(5), secrets),
      keys: new SigningKeys(db.pool, secrets),
      secrets,
      poster: createJsonPoster({ timeoutMs: 5000, allowPrivate: true }),
      logger: testLogger,
      metrics: m,
      policy: { delaysSeconds: [0.2], maxAgeSeconds: 3600, breakerFailures: 100, breakerCooldownSeconds: 1 },
      concurrency: 8,
      pollMs: 20,
      leaseSeconds: 30,
      logDays: 14,
    });
    dispatchers.push(d);
    d.start();
    return d;
  };
  let endpointId = '';
  const fill = async (messages: number, revisions: number[]) => {
    const rows: { id: string; stream: string; revision: number; body: string; eventId: string }[] = [];
    for (let m = 0; m < messages; m++) {
      for (const revision of revisions) {
        const eventId = randomUUID();
        const id = deliveryId(endpointId, eventId);
        rows.push({
          id,
          eventId,
          stream: `message-${m}`,
          revision,
          body: JSON.stringify({
            event: 'MessageLoaded',
            timestamp: Date.now() / 1000,
            payload: { m, revision },
            uuid: id,
          }),
        });
      }
    }
    await db.pool.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, webhook_event, stream_id, stream_revision, event_at, body, retry_base_at)
       SELECT u.id, $2, u.event_id, 'MessageOpened', 'MessageLoaded', u.stream, u.revision, now(), u.body, now()
         FROM unnest($1::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[]) AS u(id, event_id, stream, revision, body)`,
      [
        rows.map((r) => r.id),
        endpointId,
        rows.map((r) => r.eventId),
        rows.map((r) => r.stream),
        rows.map((r) => r.revision),
        rows.map((r) => r.body),
      ],
    );
    return rows;
  };

  before(async () => {
    db = await createTestDatabase();
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    for (const d of dispatchers) await d.stop();
    await receiver?.close();
    await db?.drop();
  });

  it('delivers every event once, each message in order, with both doing part of the work', async () => {
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
    assert.ok(server.ok);
    endpointId = (
      await new WebhookStore(db.pool, secrets).create(server.value.id, {
        url: receiver.url,
        description: '',
        events: null,
        enabled: true,
      })
    ).endpoint.id;
    // 60 messages with 3 events each, as the outbox projection writes them
    const rows = await fill(60, [3, 4, 5]);

    for (const m of metrics) startDispatcher(m);

    await eventually(
      async () => (receiver.received.length >= rows.length ? true : undefined),
      () => `received ${receiver.received.length} of ${rows.length}`,
      { timeoutMs: 30_000 },
    );
    await new Promise((r) => setTimeout(r, 300));
    const uuids = receiver.received.map((h) => h.json.uuid);
    assert.equal(uuids.length, rows.length, 'nothing sent twice');
    assert.equal(new Set(uuids).size, rows.length);
    for (let m = 0; m < 60; m++) {
      const order = receiver.received.filter((h) => h.json.payload.m === m).map((h) => h.json.payload.revision);
      assert.deepEqual(order, [3, 4, 5], `message ${m} in order`);
    }
    const done = async (i: number) =>
      (await metrics[i]!.webhookDeliveries.get()).values.find((v) => v.labels.outcome === 'delivered')?.value ?? 0;
    const [a, b] = [await done(0), await done(1)];
    assert.equal(a + b, rows.length);
    assert.ok(a > 0 && b > 0, `both dispatchers worked (${a} and ${b})`);
    const { rows: left } = await db.pool.query(
      `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'delivered'`,
    );
    assert.equal(left[0].n, 0);
  });

  it('takes over what a dead process had leased once its lease ends, and sends it (at least once)', async () => {
    for (const d of dispatchers.splice(0)) await d.stop();
    const before = receiver.received.length;
    const rows = await fill(5, [7]);
    // a process leases them for 1 s and dies without a word
    const taken = await new WebhookOutbox(db.pool, secrets).lease(50, 1);
    assert.equal(taken.length, 5);
    startDispatcher();
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(receiver.received.length, before, 'nobody sends what is leased');
    await eventually(
      async () => (receiver.received.length === before + 5 ? true : undefined),
      () => `received ${receiver.received.length - before}`,
    );
    assert.deepEqual(new Set(receiver.received.slice(before).map((h) => h.json.uuid)), new Set(rows.map((r) => r.id)));
  });
});
