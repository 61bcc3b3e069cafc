import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { handleMessageCommand } from '../../write-side/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

/** Postal #712: a delivered, failed or bounced message sent again from its stored content, in the same history. */
describe('redelivering a message (POST /v2/messages/{id}/redeliver)', () => {
  let t: TestApp;
  let tenant: Tenant;
  let sink: SmtpSink;
  const key = () => ({ 'X-Server-API-Key': tenant.apiKey });
  const send = async (to: string, subject: string) => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@redeliver.test', to: [to], subject, text: `Hello ${to}` },
      headers: key(),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.messages[0].id as string;
  };
  const view = async (id: string) => (await http(t.url, 'GET', `/v2/messages/${id}`, { headers: key() })).body;
  const waitFor = (id: string, status: string) =>
    eventually(
      async () => ((await view(id)).status === status ? view(id) : undefined),
      () => `message ${id} never became ${status}`,
      { intervalMs: 50 },
    );
  const redeliver = (id: string) => http(t.url, 'POST', `/v2/messages/${id}/redeliver`, { headers: key() });
  const toSink = (subject: string) => sink.received.filter((m) => m.raw.toString('utf8').includes(subject));

  before(async () => {
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.23', sinkPort, { tls: false });
    t = await startTestApp({
      POSTLOG_ROLES: 'api,mta,projector',
      POSTLOG_SMART_HOST: `127.0.0.23:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_RETRY_DELAYS: '1',
    });
    tenant = await createTenant(t.app, { domain: 'redeliver.test' });
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
  });

  it('sends a delivered message again: the receiver gets it twice, the history shows both deliveries', async () => {
    const id = await send('twice@example.org', 'Redelivery one');
    await waitFor(id, 'delivered');
    assert.equal(toSink('Redelivery one').length, 1);

    const res = await redeliver(id);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.events, ['MessageRedeliveryRequested', 'MessageQueued']);
    assert.equal(res.body.status, 'queued');
    await eventually(
      async () => (toSink('Redelivery one').length === 2 ? true : undefined),
      () => `the sink has ${toSink('Redelivery one').length} copies`,
      { intervalMs: 50 },
    );
    const [first, second] = toSink('Redelivery one');
    // the same stored content, signed and sent again (only the per-attempt headers may differ)
    assert.equal(second!.to.join(), first!.to.join());
    assert.match(second!.raw.toString('utf8'), /Hello twice@example\.org/);

    const v = await waitFor(id, 'delivered');
    assert.deepEqual(
      v.deliveries.map((d: { outcome: string }) => d.outcome),
      ['delivered', 'delivered'],
    );
    assert.equal(v.attempts, 2);
    const history = await eventually(
      async () => {
        const h = await http(t.url, 'GET', `/v2/messages/${id}/history`, { headers: key() });
        const types = (h.body.events as { type: string }[]).map((e) => e.type);
        return types.filter((x) => x === 'MessageDelivered').length === 2 ? h.body.events : undefined;
      },
      () => 'the history never showed the second delivery',
      { intervalMs: 50 },
    );
    assert.deepEqual(
      history.map((e: { type: string }) => e.type),
      [
        'MessageAccepted',
        'MessageQueued',
        'MessageDelivered',
        'MessageRedeliveryRequested',
        'MessageQueued',
        'MessageDelivered',
      ],
    );
    assert.match(history[3].metadata.actor, /^api-key:/);
    assert.deepEqual(
      history.filter((e: { type: string }) => e.type === 'MessageDelivered').map((e: any) => e.data.delivery.attempt),
      [1, 2],
    );
  });

  it('sends a bounced message again once the receiver takes it', async () => {
    sink.behaviours.set('refused@example.org', { code: 550, text: '5.1.1 no such user' });
    const id = await send('refused@example.org', 'Redelivery bounced');
    await waitFor(id, 'bounced');
    sink.behaviours.set('refused@example.org', 'accept');
    assert.equal((await redeliver(id)).status, 200);
    await waitFor(id, 'delivered');
    assert.equal(toSink('Redelivery bounced').length, 1);
  });

  it('refuses a message still on its way, one of another server, and one whose content is gone', async () => {
    // development mode holds every message: it was never delivered
    const dev = await createTenant(t.app, { domain: 'dev-redeliver.test', mode: 'development' });
    const sent = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@dev-redeliver.test', to: ['later@example.org'], subject: 's', text: 'x' },
      headers: { 'X-Server-API-Key': dev.apiKey },
    });
    const heldId = sent.body.messages[0].id as string;
    const early = await http(t.url, 'POST', `/v2/messages/${heldId}/redeliver`, {
      headers: { 'X-Server-API-Key': dev.apiKey },
    });
    assert.equal(early.status, 409, JSON.stringify(early.body));
    assert.equal(early.body.code, 'MESSAGE_NOT_REDELIVERABLE');

    const id = await send('expired@example.org', 'Redelivery expired');
    await waitFor(id, 'delivered');
    const foreign = await http(t.url, 'POST', `/v2/messages/${id}/redeliver`, {
      headers: { 'X-Server-API-Key': dev.apiKey },
    });
    assert.equal(foreign.status, 404);

    // retention removed the content (what runRetention records)
    const expired = await handleMessageCommand(t.app.eventStore, id, {
      type: 'ExpireContent',
      retentionDays: 0,
      at: new Date().toISOString(),
    });
    assert.equal(expired.ok, true);
    const gone = await redeliver(id);
    assert.equal(gone.status, 410);
    assert.equal(gone.body.code, 'CONTENT_EXPIRED');
    assert.equal(toSink('Redelivery expired').length, 1);
  });
});
