import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import nodemailer from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/** The per-connection limit of this app: low, so that pooled clients cross it. */
const MESSAGES_PER_CONNECTION = 20;

describe('SMTP submission for campaign managers (Listmonk, Mailtrain)', () => {
  let t: TestApp;
  let port: number;
  let tenant: Tenant;
  /** In development mode: every message is held at once, and the MessageHeld webhook says so. */
  let dev: Tenant;
  let receiver: WebhookReceiver;
  const key = (x: Tenant) => ({ 'X-Server-API-Key': x.apiKey });
  const view = (x: Tenant, id: string) =>
    eventually(
      async () => {
        const res = await http(t.url, 'GET', `/v2/messages/${id}`, { headers: key(x) });
        return res.status === 200 ? (res.body as Record<string, any>) : undefined;
      },
      () => `message ${id} is not in the read model`,
    );
  const raw = async (x: Tenant, id: string) =>
    (await http(t.url, 'GET', `/v2/messages/${id}/raw`, { headers: key(x) })).body as string;
  const idsOf = (response: string) => /queued as ([\d,]+) /.exec(response)![1]!.split(',');
  const count = async () => (await t.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n;
  /** `from`: the client's loopback address, so that no test's logins throttle another's. */
  const transport = (x: Tenant, from: string) =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      localAddress: from,
      auth: { user: x.smtp.username, pass: x.smtp.password },
    });

  before(async () => {
    port = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp,projector',
      POSTLOG_SUBMISSION_PORT: String(port),
      POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
      POSTLOG_DATA_DIR: tempDataDir('postlog-campaigns-'),
      POSTLOG_SMTP_MAX_MESSAGES_PER_CONNECTION: String(MESSAGES_PER_CONNECTION),
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_WEBHOOK_POLL_MS: '50',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    dev = await createTenant(t.app, { domain: 'mailtrain.test', mode: 'development' });
    receiver = await startWebhookReceiver();
    const endpoint = await http(t.url, 'POST', `/v2/servers/${dev.server.id}/webhooks`, {
      body: { url: receiver.url },
      headers: key(dev),
    });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
  });
  after(async () => {
    await t?.stop();
    await receiver?.close();
  });

  it("takes Listmonk's defaults: STARTTLS, CRAM-MD5, 10 pooled connections kept while idle, 300 messages", async () => {
    // Listmonk's SMTP settings as it ships them (schema.sql): auth_protocol cram, tls_type STARTTLS, max_conns 10,
    // idle_timeout 15s; its pool (knadh/smtppool) sets no limit on messages per connection
    const listmonk = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      localAddress: '127.0.0.21',
      auth: { user: tenant.smtp.username, pass: tenant.smtp.password, method: 'CRAM-MD5' },
      pool: true,
      maxConnections: 10,
      maxMessages: Infinity,
      idleTimeout: 15_000,
    });
    const campaign = randomUUID();
    const subscribers = Array.from({ length: 300 }, () => randomUUID());
    const send = (i: number) =>
      listmonk.sendMail({
        from: 'Newsletter <news@sender.test>',
        to: `subscriber${i}@example.org`,
        subject: 'Issue 1',
        html: '<p>Hello</p>',
        text: 'Hello',
        headers: { 'X-Listmonk-Campaign': campaign, 'X-Listmonk-Subscriber': subscribers[i]! },
      });
    const first = await Promise.all(subscribers.slice(0, 150).map((_, i) => send(i)));
    // between two of Listmonk's batches the pool's connections sit idle: Postlog keeps them open
    await sleep(3_000);
    const second = await Promise.all(subscribers.slice(150).map((_, i) => send(150 + i)));
    listmonk.close();
    for (const info of [...first, ...second]) assert.match(info.response, /^250 2\.0\.0 Ok: queued as \d+ /);

    // the SMTP session of each message is in its MessageAccepted's correlation id
    const { rows } = await t.db.pool.query<{ session: string; subscriber: string }>(
      `SELECT metadata->>'correlationId' AS session, data->'metadata'->>'listmonk-subscriber' AS subscriber
         FROM events WHERE type = 'MessageAccepted' AND data->'metadata'->>'listmonk-campaign' = $1`,
      [campaign],
    );
    assert.equal(rows.length, 300, 'every message accepted once');
    const perSession = new Map<string, number>();
    for (const r of rows) perSession.set(r.session, (perSession.get(r.session) ?? 0) + 1);
    const sizes = [...perSession.values()];
    assert.ok(Math.max(...sizes) <= MESSAGES_PER_CONNECTION, `at most the limit per connection: ${sizes}`);
    assert.ok(sizes.includes(MESSAGES_PER_CONNECTION), `some connections reached the limit: ${sizes}`);
    assert.ok(perSession.size <= 300 / MESSAGES_PER_CONNECTION + 10, `few connections: ${perSession.size}`);
    const sessionOf = new Map(rows.map((r) => [r.subscriber, r.session]));
    const before = new Set(subscribers.slice(0, 150).map((s) => sessionOf.get(s)));
    assert.ok(
      subscribers.slice(150).some((s) => before.has(sessionOf.get(s))),
      'the second batch went over connections of the first',
    );

    const [id] = idsOf(second[7]!.response);
    const message = await view(tenant, id!);
    assert.deepEqual(message.metadata, { 'listmonk-campaign': campaign, 'listmonk-subscriber': subscribers[157] });
    // the headers stay in the message: Listmonk's bounce mailbox reader looks for them in bounces
    assert.match(await raw(tenant, id!), new RegExp(`^X-Listmonk-Campaign: ${campaign}\\r$`, 'mi'));
  });

  it("loses no message of a pool that retries no refused MAIL FROM (Listmonk's) at the connection limit", async () => {
    // knadh/smtppool: RSET after each message before the connection goes back to the pool; a failed RSET drops the
    // connection, an error reply to MAIL, RCPT or DATA fails the message (only network errors are retried)
    const open = async () => {
      const c = new SMTPConnection({
        host: '127.0.0.1',
        port,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
        localAddress: '127.0.0.22',
      });
      await new Promise<void>((resolve, reject) => {
        c.once('error', reject);
        c.connect(() => resolve());
      });
      await new Promise<void>((resolve, reject) =>
        c.login({ user: tenant.smtp.username, pass: tenant.smtp.password, method: 'CRAM-MD5' }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      c.on('error', () => undefined);
      return c;
    };
    const reset = (c: SMTPConnection) =>
      new Promise<Error | null>((resolve) => {
        // a 421 read before the RSET went out closes the connection; the RSET then gets no answer
        const closed = () => resolve(new Error('connection closed'));
        c.once('end', closed);
        c.reset((err) => {
          c.off('end', closed);
          resolve(err ?? null);
        });
      });
    const resets: string[] = [];
    let connections = 0;
    let c: SMTPConnection | undefined;
    for (let i = 0; i < 2 * MESSAGES_PER_CONNECTION + 5; i++) {
      if (!c) {
        c = await open();
        connections++;
      }
      const message = `From: news@sender.test\r\nTo: r${i}@example.org\r\nSubject: ${i}\r\n\r\nx\r\n`;
      const info = await new Promise<{ response: string }>((resolve, reject) =>
        c!.send({ from: 'news@sender.test', to: [`r${i}@example.org`] }, message, (err, sent) =>
          err ? reject(new Error(`message ${i} failed: ${err.message}`)) : resolve(sent),
        ),
      );
      assert.match(info.response, /^250 /);
      const refused = await reset(c);
      if (refused) {
        resets.push(`${i}: ${c.lastServerResponse || ''}`.trim());
        c.close();
        c = undefined;
      }
    }
    c?.quit();
    assert.equal(connections, 3, resets.join('; '));
    assert.equal(resets.length, 2);
    for (const r of resets) assert.match(r, /^(19|39): 421 4\.7\.0 Too many messages on this connection/);
  });

  it("answers DATA with the Message-ID as the last word, the id Mailtrain matches Postal's webhooks on", async () => {
    const before = receiver.received.length;
    const info = await transport(dev, '127.0.0.23').sendMail({
      // as Mailtrain's message-sender composes a campaign message
      from: { name: 'Mailtrain', address: 'campaigns@mailtrain.test' },
      to: 'subscriber@example.org',
      subject: 'Campaign',
      html: '<p>x</p>',
      headers: {
        'x-fbl': 'cAmPaIgN.lIsT.sUbScRiBeR',
        'x-smtpapi': JSON.stringify({ unique_args: { campaign_id: 'cAmPaIgN.lIsT.sUbScRiBeR' } }),
      },
    });
    // Mailtrain v2's fallback (server/lib/message-sender.js): the reply's last word
    const responseId = info.response.split(/\s+/).pop()!;
    assert.equal(`<${responseId}>`, info.messageId);
    const [id] = idsOf(info.response);
    const hook = await eventually(
      async () =>
        receiver.received
          .slice(before)
          .find((h) => h.json.event === 'MessageHeld' && h.json.payload.message.id === Number(id)),
      () => `no MessageHeld for ${id}: ${receiver.received.map((h) => h.json.event)}`,
    );
    assert.equal(hook.json.payload.message.message_id, responseId);
    assert.deepEqual(hook.json.payload.message.metadata, { campaign_id: 'cAmPaIgN.lIsT.sUbScRiBeR' });

    // several recipients: a message each, all with the one Message-ID the reply ends with
    const both = await transport(dev, '127.0.0.23').sendMail({
      from: 'campaigns@mailtrain.test',
      to: ['a@example.org', 'b@example.org'],
      subject: 'Two',
      text: 'x',
    });
    const shared = both.response.split(/\s+/).pop()!;
    const ids = idsOf(both.response);
    assert.equal(ids.length, 2);
    for (const each of ids) assert.equal((await view(dev, each)).rfcMessageId, shared);
  });

  it('keeps X-SMTPAPI unique_args and category as metadata and tag, and takes the header out', async () => {
    const info = await transport(tenant, '127.0.0.24').sendMail({
      from: 'app@sender.test',
      to: 'x@example.org',
      subject: 'SendGrid-style',
      text: 'x',
      headers: {
        'X-SMTPAPI': JSON.stringify({ unique_args: { user: 'u-7', order: 1234, vip: true }, category: ['receipts'] }),
        'X-Other': 'stays',
      },
    });
    const [id] = idsOf(info.response);
    const message = await view(tenant, id!);
    assert.deepEqual(message.metadata, { user: 'u-7', order: '1234', vip: 'true' });
    assert.equal(message.tag, 'receipts');
    const stored = await raw(tenant, id!);
    assert.doesNotMatch(stored, /x-smtpapi|unique_args/i, 'not relayed to the recipient');
    assert.match(stored, /^X-Other: stays\r$/m);
  });

  it('refuses an X-SMTPAPI header it cannot keep (not JSON, other keys, past the limits), naming why', async () => {
    const smtp = transport(tenant, '127.0.0.25');
    const refusedWith = (why: RegExp) => (e: { responseCode?: number; response?: string }) => {
      assert.equal(e.responseCode, 554, e.response);
      assert.match(e.response ?? '', /^554 5\.6\.0 /);
      assert.match(e.response ?? '', why);
      return true;
    };
    const send = (smtpApi: string, extra: Record<string, string> = {}) =>
      smtp.sendMail({
        from: 'app@sender.test',
        to: 'x@example.org',
        subject: 'x',
        text: 'x',
        headers: { 'X-SMTPAPI': smtpApi, ...extra },
      });
    const tooMany = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    const before = await count();
    await assert.rejects(send('{"unique_args": {'), refusedWith(/X-SMTPAPI is not valid JSON/));
    await assert.rejects(send('["x"]'), refusedWith(/X-SMTPAPI /));
    await assert.rejects(send('{"to": ["a@example.org"]}'), refusedWith(/X-SMTPAPI .*"to"/));
    await assert.rejects(send('{"category": ["a", "b"]}'), refusedWith(/category: one category only/));
    await assert.rejects(send('{"unique_args": {"a": {"b": 1}}}'), refusedWith(/unique_args\.a/));
    await assert.rejects(send(JSON.stringify({ unique_args: tooMany })), refusedWith(/at most 50 metadata keys/));
    await assert.rejects(
      send(JSON.stringify({ unique_args: { long: 'x'.repeat(1001) } })),
      refusedWith(/metadata: long: /),
    );
    await assert.rejects(
      smtp.sendMail({
        envelope: { from: 'app@sender.test', to: 'x@example.org' },
        raw: 'From: app@sender.test\r\nX-SMTPAPI: {}\r\nX-SMTPAPI: {}\r\nTo: x@example.org\r\n\r\nx\r\n',
      }),
      refusedWith(/more than one X-SMTPAPI header/),
    );
    assert.equal(await count(), before, 'nothing appended');
  });
});
