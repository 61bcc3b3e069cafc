import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { smtpSession } from '../helpers/smtp-raw.js';

/** Recipients that route mail somewhere other than the domain they name, or name no domain at all. */
const ROUTING = ['root@127.0.0.1', 'x@127.1', 'u@[127.0.0.1]', 'u@[IPv6:::1]', '<@a.test,@b.test:c@d.test>', 'u%h@relay.test', 'h!u@relay.test'];

describe('recipients: address literals, numeric domains and source routes are refused at every entry', () => {
  let t: TestApp;
  let tenant: Tenant;
  let tlsPort: number;
  const accepted = async () => (await t.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted'")).rows[0]!.n;

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
      assert.match(await say(`AUTH PLAIN ${Buffer.from(`\0${tenant.smtp.username}\0${tenant.smtp.password}`).toString('base64')}`), /^235 /);
      assert.match(await say('MAIL FROM:<app@sender.test>'), /^250 /);
      const out: Record<string, string> = {};
      for (const rcpt of ROUTING.filter((r) => !r.startsWith('<'))) out[rcpt] = await say(`RCPT TO:<${rcpt}>`);
      out.plain = await say('RCPT TO:<plain@example.org>');
      return out;
    });
    for (const rcpt of ROUTING.filter((r) => !r.startsWith('<'))) assert.match(replies[rcpt]!, /^553 5\.1\.3 /, `${rcpt}: ${replies[rcpt]}`);
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
        body: { mail_from: 'app@sender.test', rcpt_to: [rcpt], data: Buffer.from('From: app@sender.test\r\n\r\nx\r\n').toString('base64') },
        headers: { 'X-Server-API-Key': tenant.apiKey },
      });
      assert.equal(raw.body.data.code, 'ValidationError', `${rcpt}: ${JSON.stringify(raw.body)}`);
    }
    assert.equal(await accepted(), before);
  });
});
