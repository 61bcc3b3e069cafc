import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { smtpRaw, smtpSession } from '../helpers/smtp-raw.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

/** Recipients that route mail somewhere other than the domain they name, or name no domain at all. */
const ROUTING = [
  'root@127.0.0.1',
  'x@127.1',
  'u@[127.0.0.1]',
  'u@[IPv6:::1]',
  '<@a.test,@b.test:c@d.test>',
  'u%h@relay.test',
  'h!u@relay.test',
];

describe('recipients: address literals, numeric domains and source routes are refused at every entry', () => {
  let t: TestApp;
  let tenant: Tenant;
  let tlsPort: number;
  const accepted = async () =>
    (await t.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted'"))
      .rows[0]!.n;

  before(async () => {
    tlsPort = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp',
      POSTLOG_SUBMISSION_PORT: String(await freePort()),
      POSTLOG_SUBMISSION_TLS_PORT: String(tlsPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-rcpt-'),
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => t?.stop());

  it('SMTP submission answers 553 5.1.3 at RCPT for each, and still takes a plain address', async () => {
    const replies = await smtpSession({ port: tlsPort, tls: true }, async (say) => {
      assert.match(await say('EHLO client.test'), /^250 /);
      assert.match(
        await say(`AUTH PLAIN ${Buffer.from(`\0${tenant.smtp.username}\0${tenant.smtp.password}`).toString('base64')}`),
        /^235 /,
      );
      assert.match(await say('MAIL FROM:<app@sender.test>'), /^250 /);
      const out: Record<string, string> = {};
      for (const rcpt of ROUTING.filter((r) => !r.startsWith('<'))) out[rcpt] = await say(`RCPT TO:<${rcpt}>`);
      out.plain = await say('RCPT TO:<plain@example.org>');
      return out;
    });
    for (const rcpt of ROUTING.filter((r) => !r.startsWith('<')))
      assert.match(replies[rcpt]!, /^553 5\.1\.3 /, `${rcpt}: ${replies[rcpt]}`);
    assert.match(replies.plain!, /^250 /);
    // In SMTP a source route is RFC 5321's own syntax, which a server "MUST accept and SHOULD
    // ignore" (appendix C): smtp-server drops the route, so the mail goes to c@d.test, never via a.test.
  });

  it('the v2 API answers 400 naming the recipient, the Postal API a ValidationError; nothing is appended', async () => {
    const before = await accepted();
    for (const rcpt of ROUTING) {
      const v2 = await http(t.url, 'POST', '/v2/messages', {
        body: { from: 'app@sender.test', to: [rcpt], subject: 's', text: 'x' },
        headers: { 'X-Server-API-Key': tenant.apiKey },
      });
      assert.equal(v2.status, 400, `${rcpt}: ${JSON.stringify(v2.body)}`);
      const postal = await http(t.url, 'POST', '/api/v1/send/message', {
        body: { from: 'app@sender.test', to: [rcpt], subject: 's', plain_body: 'x' },
        headers: { 'X-Server-API-Key': tenant.apiKey },
      });
      assert.equal(postal.body.status, 'error', `${rcpt}: ${JSON.stringify(postal.body)}`);
      const raw = await http(t.url, 'POST', '/api/v1/send/raw', {
        body: {
          mail_from: 'app@sender.test',
          rcpt_to: [rcpt],
          data: Buffer.from('From: app@sender.test\r\n\r\nx\r\n').toString('base64'),
        },
        headers: { 'X-Server-API-Key': tenant.apiKey },
      });
      assert.equal(raw.body.data.code, 'ValidationError', `${rcpt}: ${JSON.stringify(raw.body)}`);
    }
    assert.equal(await accepted(), before);
  });

  it('refuses control characters in any recipient field, so one tenant cannot fail the shared suppression look-up', async () => {
    const before = await accepted();
    const nul = 'a\u0000b@example.com';
    const postal = await http(t.url, 'POST', '/api/v1/send/message', {
      body: { from: 'app@sender.test', to: ['ok@example.org'], bcc: [nul], subject: 's', plain_body: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(postal.body.data?.code, 'ValidationError', JSON.stringify(postal.body));
    const raw = await http(t.url, 'POST', '/api/v1/send/raw', {
      body: {
        mail_from: 'app@sender.test',
        rcpt_to: [nul],
        data: Buffer.from('From: app@sender.test\r\n\r\nx\r\n').toString('base64'),
      },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(raw.body.data?.code, 'ValidationError', JSON.stringify(raw.body));
    assert.equal(await accepted(), before);
    // and a plain send still goes through
    const fine = await http(t.url, 'POST', '/api/v1/send/message', {
      body: { from: 'app@sender.test', to: ['ok@example.org'], subject: 's', plain_body: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(fine.body.status, 'success', JSON.stringify(fine.body));
  });
});

describe('recipients: address literals where the operator allows them (POSTLOG_ADDRESS_LITERALS)', () => {
  let t: TestApp;
  let tenant: Tenant;
  let sink: SmtpSink;
  let tlsPort: number;

  before(async () => {
    tlsPort = await freePort();
    const mtaPort = await freePort();
    sink = await startSmtpSink('127.0.0.8', mtaPort, { tls: false });
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp,mta,projector',
      POSTLOG_SUBMISSION_PORT: String(await freePort()),
      POSTLOG_SUBMISSION_TLS_PORT: String(tlsPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-literal-'),
      POSTLOG_ADDRESS_LITERALS: 'any',
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_MTA_TLS: 'opportunistic',
      POSTLOG_MTA_POLL_MS: '50',
      // nothing answers here: a literal must not need DNS
      POSTLOG_DNS_SERVERS: '127.0.0.1:9',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
  });

  it('takes user@[IP] over the API and SMTP and delivers it to that address without DNS; numeric domains stay refused', async () => {
    const v2 = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to: ['api@[127.0.0.8]'], subject: 'literal', text: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(v2.status, 202, JSON.stringify(v2.body));
    const reply = await smtpRaw({
      port: tlsPort,
      tls: true,
      auth: { user: tenant.smtp.username, pass: tenant.smtp.password },
      from: 'app@sender.test',
      to: 'smtp@[127.0.0.8]',
      data: Buffer.from('From: app@sender.test\r\nTo: smtp@[127.0.0.8]\r\nSubject: literal\r\n\r\nx\r\n'),
    });
    assert.match(reply, /^250 /);
    const deadline = Date.now() + 20_000;
    while (sink.received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(sink.received.flatMap((m) => m.to).sort(), ['api@[127.0.0.8]', 'smtp@[127.0.0.8]']);
    for (const rcpt of [
      'root@127.0.0.1',
      'u@[999.0.0.1]',
      'u@[010.0.0.1]',
      'u@[IPv6:not-an-ip]',
      '<@a.test:u@[127.0.0.8]>',
    ]) {
      const bad = await http(t.url, 'POST', '/v2/messages', {
        body: { from: 'app@sender.test', to: [rcpt], subject: 's', text: 'x' },
        headers: { 'X-Server-API-Key': tenant.apiKey },
      });
      assert.equal(bad.status, 400, `${rcpt}: ${JSON.stringify(bad.body)}`);
    }
  });
});
