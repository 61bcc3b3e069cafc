import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { DSN_SUBJECT, parseDeliveryStatus } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/** Hands a message to the inbound MX as a remote MTA would (from '' is the null sender <>). */
async function deliverInbound(port: number, from: string, to: string[], raw: string) {
  const c = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, logger: false, name: 'mx.author.test' });
  await new Promise<void>((res, rej) => {
    c.once('error', rej);
    c.connect(() => res());
  });
  try {
    return await new Promise<{ code: number; response: string }>((resolve) =>
      c.send({ from, to }, raw, (err, info) => {
        const e = err as (Error & { responseCode?: number; response?: string }) | null;
        resolve(
          e ? { code: e.responseCode ?? 0, response: e.response ?? e.message } : { code: 250, response: info.response },
        );
      }),
    );
  } finally {
    c.quit();
  }
}

const eventually = async <T>(read: () => Promise<T> | T, done: (v: T) => boolean, what: string, ms = 20_000) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const mail = (from: string, to: string, subject: string) =>
  [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <${subject.replace(/\W/g, '')}@author.test>`,
    '',
    'Hello there.',
    '',
  ].join('\r\n');

describe('bounces both ways: the DSN of a Bounce route, and a DSN received kept as an incoming message', {
  skip: !dnsmasqAvailable(),
}, () => {
  let t: TestApp;
  let tenant: Tenant;
  let inboundPort: number;
  let sink: SmtpSink;
  let dns: DnsServer;
  let hooks: WebhookReceiver;
  const admin = () => ({ authorization: `Bearer ${tenant.adminToken}` });
  /** The mail the remote MX (the sink, found through DNS) received for this address, once it came. */
  const arrived = (to: string, count = 1) =>
    eventually(
      () => sink.received.filter((m) => m.to.includes(to)),
      (found) => found.length >= count,
      `no mail for ${to} reached the remote MX`,
    );
  /** Postlog's DSNs in the log: outgoing messages with the DSN subject. */
  const dsnsAccepted = async () =>
    (
      await t.db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted' AND data->>'subject' = $1`,
        [DSN_SUBJECT],
      )
    ).rows[0]!.n;
  const incomingTo = async (rcpt: string) =>
    (
      await eventually(
        () =>
          http(t.url, 'GET', `/v2/messages?serverId=${tenant.server.id}&direction=incoming&recipient=${rcpt}`, {
            headers: admin(),
          }),
        (r) => r.body.messages?.length > 0,
        `no incoming message to ${rcpt}`,
      )
    ).body.messages as { id: string; status: string; subject: string }[];

  before(async () => {
    const mtaPort = await freePort();
    inboundPort = await freePort();
    sink = await startSmtpSink('127.0.0.6', mtaPort, { tls: false });
    dns = await startDnsServer({
      mx: [
        ['author.test', 'mx.remote.test', 10],
        ['far.test', 'mx.remote.test', 10],
      ],
      a: [['mx.remote.test', '127.0.0.6']],
      local: ['test'],
    });
    t = await startTestApp({
      POSTLOG_ROLES: 'api,mta,projector,inbound',
      POSTLOG_INBOUND_PORT: String(inboundPort),
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-bounces-'),
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_RETRY_DELAYS: '1',
      POSTLOG_DNS_SERVERS: dns.address,
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    hooks = await startWebhookReceiver();
    const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/webhooks`, {
      body: { url: hooks.url, events: ['MessageBounced', 'MessageReceived'] },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (const [address, mode] of [
      ['gone@sender.test', 'bounce'],
      ['keep@sender.test', 'accept'],
    ] as const) {
      const res = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/routes`, {
        body: { address, mode },
        headers: admin(),
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
  });
  after(async () => {
    await t?.stop();
    await hooks?.close();
    await sink?.close();
    await dns?.stop();
  });

  it("answers a message some of whose recipients a Bounce route refuses 250, and returns a DSN to the sender through the sender's MX", async () => {
    const both = ['keep@sender.test', 'gone@sender.test'];
    const res = await deliverInbound(inboundPort, 'ann@author.test', both, mail('Ann <ann@author.test>', 'x', 'Mixed'));
    assert.equal(res.code, 250, res.response);
    assert.equal((await incomingTo('keep@sender.test'))[0]!.status, 'stored');
    assert.equal((await incomingTo('gone@sender.test'))[0]!.status, 'bounced');

    const [dsn] = await arrived('ann@author.test');
    const parsed = await PostalMime.parse(dsn!.raw, { attachmentEncoding: 'utf8' });
    // no postmaster address set: postmaster@ our host name
    assert.equal(parsed.from?.address, 'postmaster@postlog.test');
    assert.equal(parsed.subject, DSN_SUBJECT);
    assert.match(dsn!.raw.toString(), /^Content-Type: multipart\/report; report-type=delivery-status;/m);
    assert.match(dsn!.raw.toString(), /^Auto-Submitted: auto-replied\r$/m);
    const part = (mime: string) => String(parsed.attachments.find((a) => a.mimeType === mime)?.content ?? '');
    const status = parseDeliveryStatus(part('message/delivery-status'));
    assert.equal(status.reportingMta, 'postlog.test');
    assert.deepEqual(
      status.recipients.map((r) => [r.finalRecipient, r.action, r.status]),
      [['gone@sender.test', 'failed', '5.1.1']],
      'one report, for the bounced recipient only',
    );
    assert.match(part('text/rfc822-headers'), /^Subject: Mixed$/m, 'the headers of the message come back');
    assert.doesNotMatch(part('text/rfc822-headers'), /Hello there/, 'its body does not');

    // an outgoing message of the server, in its list and delivered like any other
    const out = await eventually(
      () =>
        http(t.url, 'GET', `/v2/messages?serverId=${tenant.server.id}&direction=outgoing&recipient=ann@author.test`, {
          headers: admin(),
        }),
      (r) => r.body.messages?.[0]?.status === 'delivered',
      'the DSN is not a delivered outgoing message',
    );
    assert.equal(out.body.messages.length, 1);
  });

  it("writes the DSN from the server's postmaster address, signed with its domain's key", async () => {
    const set = await http(t.url, 'PATCH', `/v2/servers/${tenant.server.id}`, {
      body: { postmasterAddress: 'bounces@sender.test' },
      headers: admin(),
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const both = ['keep@sender.test', 'gone@sender.test'];
    const res = await deliverInbound(inboundPort, 'bea@author.test', both, mail('bea@author.test', 'x', 'Again'));
    assert.equal(res.code, 250, res.response);
    const [dsn] = await arrived('bea@author.test');
    const parsed = await PostalMime.parse(dsn!.raw);
    assert.equal(parsed.from?.address, 'bounces@sender.test');
    assert.match(dsn!.raw.toString(), /^DKIM-Signature: [\s\S]*?d=sender\.test;/m);
  });

  it('sends no DSN to a null sender, nor when every recipient bounces (refused: the sending server writes it)', async () => {
    const before = await dsnsAccepted();
    assert.ok(before >= 2, `the DSNs of the tests before are counted (${before})`);
    const both = ['keep@sender.test', 'gone@sender.test'];
    const nullSender = await deliverInbound(inboundPort, '', both, mail('MAILER-DAEMON@author.test', 'x', 'Null'));
    assert.equal(nullSender.code, 250, nullSender.response);
    const refused = await deliverInbound(
      inboundPort,
      'cy@author.test',
      ['gone@sender.test'],
      mail('cy@author.test', 'x', 'All'),
    );
    assert.equal(refused.code, 550, refused.response);
    // the DSN is accepted before the 250 is answered: by now it would be in the log
    assert.equal(await dsnsAccepted(), before);
  });

  it("keeps a DSN received for one of our messages as the server's incoming mail, named by MessageBounced", async () => {
    const sent = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to: ['bob@far.test'], subject: 'Hello Bob', text: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const id = String(sent.body.messages[0].id);
    const [original] = await arrived('bob@far.test');
    const returnPath = original!.from;
    const headers = original!.raw.toString().split('\r\n\r\n')[0]!;
    // the remote server's later bounce, to the return path, as Postfix writes one
    const dsn = [
      'From: Mail Delivery System <MAILER-DAEMON@mx.far.test>',
      `To: ${returnPath}`,
      'Subject: Undelivered Mail Returned to Sender',
      'Message-ID: <20261206.dsn1@mx.far.test>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'I am sorry to have to inform you that your message could not be delivered.',
      '',
      '--b1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.far.test',
      '',
      'Final-Recipient: rfc822; bob@far.test',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 <bob@far.test>: Recipient address rejected: User unknown',
      '',
      '--b1',
      'Content-Type: text/rfc822-headers',
      '',
      headers,
      '',
      '--b1--',
      '',
    ].join('\r\n');
    const res = await deliverInbound(inboundPort, '', [returnPath], dsn);
    assert.equal(res.code, 250, res.response);

    const hook = await eventually(
      () => hooks.received.find((h) => h.json.event === 'MessageBounced'),
      (h) => h !== undefined,
      'no MessageBounced webhook',
    );
    const payload = hook!.json.payload;
    assert.equal(String(payload.original_message.id), id);
    const bounce = payload.bounce as Record<string, unknown>;
    assert.equal(typeof bounce.id, 'number', JSON.stringify(bounce));
    assert.deepEqual(
      [bounce.message_id, bounce.from, bounce.subject],
      ['20261206.dsn1@mx.far.test', 'MAILER-DAEMON@mx.far.test', 'Undelivered Mail Returned to Sender'],
    );
    const kept = await http(t.url, 'GET', `/v2/messages/${bounce.id}`, { headers: admin() });
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    assert.deepEqual(
      [kept.body.direction, kept.body.status, kept.body.token, kept.body.subject, kept.body.rfcMessageId],
      ['incoming', 'stored', bounce.token, 'Undelivered Mail Returned to Sender', '20261206.dsn1@mx.far.test'],
    );
    assert.deepEqual([kept.body.incoming.bounceOf, kept.body.incoming.routeId], [id, ''], 'of our message, no route');
    const raw = await http(t.url, 'GET', `/v2/messages/${bounce.id}/raw`, { headers: admin() });
    assert.equal(raw.body, dsn, 'its bytes as received');
    const listed = await incomingTo(returnPath);
    assert.deepEqual(
      listed.map((m) => String(m.id)),
      [String(bounce.id)],
    );
    // the bounce is told by MessageBounced, not as mail received for a route
    const received = hooks.received.filter((h) => h.json.event === 'MessageReceived');
    assert.ok(!received.some((h) => String(h.json.payload.message.id) === String(bounce.id)));
  });
});
