import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { postfixAvailable, startPostfix, type PostfixInstance } from '../helpers/postfix.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { arfComplaint } from '../helpers/smtp-send.js';

/** Hands a raw message to an SMTP server, as a remote MTA would (`tls`: after STARTTLS, pipelining as ever). */
async function smtpSend(
  port: number,
  from: string,
  to: string,
  raw: string,
  tls = false,
): Promise<{ code: number; response: string; secure?: boolean }> {
  const c = new SMTPConnection({
    host: '127.0.0.1',
    port,
    ...(tls ? { requireTLS: true, tls: { rejectUnauthorized: false } } : { ignoreTLS: true }),
    allowInternalNetworkInterfaces: true,
    logger: false,
  });
  await new Promise<void>((res, rej) => {
    c.once('error', rej);
    c.connect(() => res());
  });
  try {
    return await new Promise((resolve) =>
      c.send({ from, to: [to] }, raw, (err, info) => {
        const e = err as (Error & { responseCode?: number; response?: string }) | null;
        resolve(
          e
            ? { code: e.responseCode ?? 0, response: e.response ?? e.message }
            : { code: 250, response: info.response, secure: c.secure },
        );
      }),
    );
  } finally {
    c.quit();
  }
}

describe('inbound: bounces (a real Postfix DSN), complaints (ARF), auto-replies, and the suppression list', () => {
  let t: TestApp;
  let tenant: Tenant;
  let inboundPort: number;
  let sink: SmtpSink;
  let postfix: PostfixInstance | undefined;
  const key = () => ({ 'X-Server-API-Key': tenant.apiKey });
  const send = async (to: string) => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to: [to], subject: 'Hello', text: 'x' },
      headers: key(),
    });
    assert.equal(res.status, 202);
    return res.body.messages[0].id as string;
  };
  const events = async (id: string) =>
    (await http(t.url, 'GET', `/v2/messages/${id}/history`, { headers: key() })).body.events as {
      type: string;
      data: Record<string, unknown>;
    }[];
  const waitForEvent = async (id: string, type: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await events(id)).find((e) => e.type === type);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`message ${id} has no ${type}: ${JSON.stringify((await events(id)).map((e) => e.type))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** The VERP return path and our reference header of a delivered message, as the sink saw it. */
  const delivered = async (to: string) => {
    const deadline = Date.now() + 15_000;
    while (!sink.received.some((m) => m.to.includes(to)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const mail = sink.received.find((m) => m.to.includes(to))!;
    return {
      returnPath: mail.from,
      reference: /^X-Postlog-MsgID: (\S+)/m.exec(mail.raw.toString())![1]!,
      raw: mail.raw.toString(),
    };
  };

  before(async () => {
    inboundPort = await freePort();
    const sinkPort = await freePort();
    const relayPort = await freePort();
    sink = await startSmtpSink('127.0.0.8', sinkPort, { tls: false });
    sink.behaviours.set('gone@example.org', {
      code: 550,
      text: '5.1.1 <gone@example.org>: Recipient address rejected: User unknown',
    });
    if (postfixAvailable()) {
      // Postlog relays through Postfix; Postfix passes mail on to the sink, and when the sink refuses
      // a recipient, Postfix sends its DSN to the VERP return path, which routes to our inbound port
      postfix = startPostfix({
        host: '127.0.0.9',
        port: relayPort,
        relayTo: { host: '127.0.0.8', port: sinkPort },
        transports: { 'psrp.sender.test': `smtp:[127.0.0.1]:${inboundPort}` },
      });
      await new Promise((r) => setTimeout(r, 1000));
    }
    t = await startTestApp({
      POSTLOG_ROLES: 'api,mta,projector,inbound',
      POSTLOG_INBOUND_PORT: String(inboundPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-inbound-'),
      POSTLOG_SMART_HOST: postfix ? `127.0.0.9:${relayPort}` : `127.0.0.8:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_DNS_SERVERS: '127.0.0.1:9',
      POSTLOG_ROUTE_RETRY_DELAYS: '1,1',
      // the test's endpoint listens on loopback
      POSTLOG_ROUTES_ALLOW_PRIVATE_ENDPOINTS: 'true',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => {
    await t?.stop();
    postfix?.stop();
    await sink?.close();
  });

  it('a DSN generated by a real Postfix becomes a late, classified Bounced event and suppresses the address', async (tctx) => {
    if (!postfix) return tctx.skip('needs root and Postfix');
    const id = await send('gone@example.org');
    await waitForEvent(id, 'MessageDelivered'); // Postfix took it
    const bounced = await waitForEvent(id, 'MessageBounced', 30_000);
    assert.equal(bounced.data.kind, 'async');
    assert.equal(bounced.data.classification, 'bad-mailbox');
    assert.equal(bounced.data.enhancedCode, '5.1.1');
    assert.match(String(bounced.data.diagnostic), /User unknown/);
    // the bounce mail itself, for the MessageBounced webhook: Postfix's DSN, with its own headers
    const bounceMessage = bounced.data.bounceMessage as Record<string, string>;
    assert.match(bounceMessage.token!, /^[0-9a-f]{16}$/);
    assert.match(bounceMessage.from!, /^MAILER-DAEMON@/i);
    assert.match(bounceMessage.subject!, /Undelivered Mail Returned to Sender/);
    assert.match(bounceMessage.rfcMessageId!, /^[^<>\s]+@[^<>\s]+$/);
    const list = await http(t.url, 'GET', '/v2/suppressions?address=gone@example.org', { headers: key() });
    assert.equal(list.body.suppressions.length, 1);
    assert.match(list.body.suppressions[0].reason, /bounce/);
    assert.ok(list.body.suppressions[0].expiresAt, 'an automatic suppression expires');
  });

  it('an ARF complaint names the message by our header: Complained, and the address is suppressed', async () => {
    const id = await send('complainer@example.net');
    await waitForEvent(id, 'MessageDelivered');
    const { reference, raw } = await delivered('complainer@example.net');
    const headers = raw.slice(0, raw.indexOf('\r\n\r\n')).replace('complainer@example.net', 'redacted@example.net');
    const arf = arfComplaint(headers);
    assert.ok(reference.length > 0);
    // over STARTTLS, as mailbox providers send their reports
    const res = await smtpSend(inboundPort, '', 'fbl@postlog.test', arf, true);
    assert.equal(res.code, 250, res.response);
    assert.equal(res.secure, true);
    const complained = await waitForEvent(id, 'MessageComplained');
    assert.equal(complained.data.feedbackType, 'abuse');
    const again = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to: ['complainer@example.net'], subject: 'x', text: 'x' },
      headers: key(),
    });
    assert.equal(again.body.messages[0].status, 'held');
  });

  it('records an out-of-office answer to the return path as an auto-reply, not a bounce', async () => {
    const id = await send('holiday@example.com');
    await waitForEvent(id, 'MessageDelivered');
    const { returnPath } = await delivered('holiday@example.com');
    const reply = [
      'From: holiday@example.com',
      `To: ${returnPath}`,
      'Subject: Out of Office: Hello',
      'Auto-Submitted: auto-replied',
      '',
      'I am away until Monday.',
      '',
    ].join('\r\n');
    assert.equal((await smtpSend(inboundPort, '', returnPath, reply)).code, 250);
    await waitForEvent(id, 'MessageAutoReplied');
    assert.equal(
      (await events(id)).some((e) => e.type === 'MessageBounced'),
      false,
    );
  });

  it('takes mail only for its own addresses, and ignores a forged token', async () => {
    const open = await smtpSend(
      inboundPort,
      'spammer@example.org',
      'victim@example.org',
      'Subject: relay?\r\n\r\nx\r\n',
    );
    assert.equal(open.code, 550);
    const id = await send('forged@example.com');
    await waitForEvent(id, 'MessageDelivered');
    const forged = `b-${id}-AAAAAAAAAAAAAAAA@psrp.sender.test`;
    const dsn = [
      'From: MAILER-DAEMON@x.example',
      `To: ${forged}`,
      'Subject: Undelivered Mail Returned to Sender',
      '',
      '550 5.1.1 user unknown',
      '',
    ].join('\r\n');
    assert.equal((await smtpSend(inboundPort, '', forged, dsn)).code, 250);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      (await events(id)).some((e) => e.type === 'MessageBounced'),
      false,
    );
  });

  it('lists, adds and removes suppressions over the API', async () => {
    const added = await http(t.url, 'POST', '/v2/suppressions', {
      body: { address: 'Manual@Example.org', reason: 'asked us to stop', days: null },
      headers: key(),
    });
    assert.equal(added.status, 201);
    assert.deepEqual(
      [added.body.address, added.body.reason, added.body.expiresAt],
      ['manual@example.org', 'asked us to stop', null],
    );
    const held = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to: ['manual@example.org'], subject: 'x', text: 'x' },
      headers: key(),
    });
    assert.equal(held.body.messages[0].status, 'held');
    assert.equal((await http(t.url, 'DELETE', '/v2/suppressions/manual@example.org', { headers: key() })).status, 204);
    assert.equal((await http(t.url, 'DELETE', '/v2/suppressions/manual@example.org', { headers: key() })).status, 404);
    const bad = await http(t.url, 'POST', '/v2/suppressions', { body: { address: 'not an address' }, headers: key() });
    assert.equal(bad.status, 400);
    const admin = await http(t.url, 'GET', '/v2/suppressions', {
      headers: { authorization: `Bearer ${tenant.adminToken}` },
    });
    assert.equal(admin.status, 400, 'an admin names the server');
    const adminList = await http(t.url, 'GET', `/v2/suppressions?serverId=${tenant.server.id}`, {
      headers: { authorization: `Bearer ${tenant.adminToken}` },
    });
    assert.equal(adminList.status, 200);
  });

  it('routes mail for an address to an HTTP endpoint as JSON, retrying until the endpoint takes it', async () => {
    const received: { body: Record<string, unknown>; header: string | undefined }[] = [];
    let failFirst = true;
    const endpoint = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        if (failFirst) {
          failFirst = false;
          res.writeHead(500).end('not now');
          return;
        }
        received.push({
          body: JSON.parse(data),
          header: req.headers['x-postlog-message-id'] as string | undefined,
        });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/inbound`;
    try {
      const admin = { authorization: `Bearer ${tenant.adminToken}` };
      const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/routes`, {
        body: { address: 'support@sender.test', endpointUrl: url },
        headers: admin,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const unverified = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/routes`, {
        body: { address: '*@elsewhere.test', endpointUrl: url },
        headers: admin,
      });
      assert.equal(unverified.status, 400);
      assert.equal(
        (await smtpSend(inboundPort, 'someone@example.org', 'nobody@sender.test', 'Subject: x\r\n\r\nx\r\n')).code,
        550,
      );
      const mail = [
        'From: Someone <someone@example.org>',
        'To: support@sender.test',
        'Subject: Help please',
        'Message-ID: <q1@example.org>',
        '',
        'My order is late.',
        '',
      ].join('\r\n');
      const res = await smtpSend(inboundPort, 'someone@example.org', 'support@sender.test', mail);
      assert.equal(res.code, 250, res.response);
      const deadline = Date.now() + 15_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(received.length, 1);
      const body = received[0]!.body;
      assert.deepEqual(
        [body.rcpt_to, body.mail_from, body.subject, body.message_id, String(body.plain_body).trim()],
        ['support@sender.test', 'someone@example.org', 'Help please', 'q1@example.org', 'My order is late.'],
      );
      const log = await http(t.url, 'GET', `/v2/routes/${created.body.id}/deliveries`, { headers: admin });
      const deadline2 = Date.now() + 10_000;
      let log2 = log;
      while (log2.body.deliveries[0]?.status !== 'delivered' && Date.now() < deadline2) {
        await new Promise((r) => setTimeout(r, 100));
        log2 = await http(t.url, 'GET', `/v2/routes/${created.body.id}/deliveries`, { headers: admin });
      }
      assert.equal(log2.body.deliveries[0].status, 'delivered');
      assert.equal(log2.body.deliveries[0].attempts, 2);
      assert.equal(String(log2.body.deliveries[0].messageId), received[0]!.header);
    } finally {
      endpoint.close();
    }
  });
});
