import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

describe('MTA smart-host mode: everything relayed through one upstream with AUTH', () => {
  let t: TestApp;
  let tenant: Tenant;
  let relay: SmtpSink;

  before(async () => {
    const port = await freePort();
    relay = await startSmtpSink('127.0.0.6', port, { tls: false, auth: { user: 'relay-user', pass: 'relay-secret' } });
    t = await startTestApp({
      POSTLOG_ROLES: 'api,mta,projector',
      POSTLOG_SMART_HOST: `127.0.0.6:${port}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_SMART_HOST_USER: 'relay-user',
      POSTLOG_SMART_HOST_PASSWORD: 'relay-secret',
      POSTLOG_MTA_POLL_MS: '50',
      // no resolver is reachable: smart-host mode must not need DNS
      POSTLOG_DNS_SERVERS: '127.0.0.1:9',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => {
    await t?.stop();
    await relay?.close();
  });

  it('relays mail for any domain to the smart host, authenticated', async () => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: {
        from: 'app@sender.test',
        to: ['someone@anywhere.example', 'other@elsewhere.example'],
        subject: 'Via relay',
        text: 'x',
      },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(res.status, 202);
    const deadline = Date.now() + 15_000;
    while (relay.received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(relay.received.flatMap((m) => m.to).sort(), [
      'other@elsewhere.example',
      'someone@anywhere.example',
    ]);
    const view = await http(t.url, 'GET', `/v2/messages/${res.body.messages[0].id}`, {
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(view.body.deliveries.at(-1).mxHost, '127.0.0.6');
  });

  it("keeps a suspended server's queued mail in the queue", async () => {
    const other = await createTenant(t.app, { domain: 'paused.test' });
    const sendAt = new Date(Date.now() + 1500).toISOString();
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: {
        from: 'app@paused.test',
        to: ['later@anywhere.example'],
        subject: 'Scheduled',
        text: 'x',
        send_at: sendAt,
      },
      headers: { 'X-Server-API-Key': other.apiKey },
    });
    assert.equal(res.status, 202);
    await t.app.tenancy.updateServer(systemActor('test'), other.server.id, {
      suspended: true,
      suspendedReason: 'abuse review',
    });
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(
      relay.received.some((m) => m.to.includes('later@anywhere.example')),
      false,
    );
    const { rows } = await t.db.pool.query('SELECT count(*)::int AS n FROM delivery_queue WHERE message_id = $1', [
      res.body.messages[0].id,
    ]);
    assert.equal(rows[0].n, 1, 'still queued');
  });
});
