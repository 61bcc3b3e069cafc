import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { systemActor } from '../../domain/index.js';
import { createTenant, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { firstReply, proxiedSocket, smtpSession } from '../helpers/smtp-raw.js';

const v1 = (client: string, family = 'TCP4', destination = '127.0.0.1') =>
  Buffer.from(`PROXY ${family} ${client} ${destination} 40000 587\r\n`);
/** A v2 PROXY header for an IPv6 client (16-byte addresses, as a load balancer writes them). */
const v2ipv6 = (client: string) => {
  const bytes = (address: string) => {
    const [head = '', tail = ''] = address.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
  };
  const body = Buffer.concat([bytes(client), bytes('::1'), Buffer.from([0x9c, 0x40, 0x01, 0xd1])]);
  return Buffer.concat([
    Buffer.from('0d0a0d0a000d0a515549540a', 'hex'),
    Buffer.from([0x21, 0x21, 0x00, body.length]),
    body,
  ]);
};

/**
 * The PROXY protocol on the submission listeners: 127.0.0.1 is the load balancer
 * (POSTLOG_SMTP_PROXY_FROM), 127.0.0.2 an ordinary client. The client a header names is the one
 * the login throttle, SMTP-IP credentials and the Received header see.
 */
describe('SMTP submission behind a load balancer (PROXY protocol v1 and v2)', () => {
  let t: TestApp;
  let tenant: Tenant;
  let port: number;
  let tlsPort: number;
  const auth = (user: string, pass: string) => `AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}`;
  /** A message without AUTH; answers the reply to MAIL FROM, and to the end of DATA when MAIL was taken. */
  const submit = (proxyHeader: Buffer) =>
    smtpSession({ port, tls: false, proxyHeader }, async (say) => {
      await say('EHLO lb.test');
      const mail = await say('MAIL FROM:<app@sender.test>');
      if (!mail.startsWith('250')) return { mail };
      await say('RCPT TO:<x@example.org>');
      await say('DATA');
      const data = await say('From: app@sender.test\r\nTo: x@example.org\r\nSubject: proxied\r\n\r\nx\r\n.');
      return { mail, data };
    });
  const storedHead = async (reply: string) => {
    const id = /queued as (\d+) Message-ID \S+$/.exec(reply)![1]!;
    const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
    const { rows } = await t.db.pool.query('SELECT body FROM contents WHERE sha256 = $1', [
      (accepted!.data as { contentHash: string }).contentHash,
    ]);
    return (rows[0].body as Buffer).toString().split('\r\n\r\n')[0]!;
  };

  before(async () => {
    port = await freePort();
    tlsPort = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp',
      POSTLOG_SUBMISSION_PORT: String(port),
      POSTLOG_SUBMISSION_TLS_PORT: String(tlsPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-smtp-proxy-'),
      POSTLOG_SMTP_PROXY_FROM: '127.0.0.1/32',
      POSTLOG_SMTP_AUTH_FAILURES_PER_MINUTE: '2',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    const range = await t.app.tenancy.createCredential(systemActor('test'), tenant.server.id, {
      kind: 'smtp-ip',
      name: 'office',
      cidr: '203.0.113.0/24',
    });
    assert.ok(range.ok);
  });
  after(async () => t.stop());

  it('v1: the client the header names is the one SMTP-IP credentials and Received see', async () => {
    const inRange = await submit(v1('203.0.113.7'));
    assert.match(inRange.data ?? inRange.mail, /^250 .*queued as \d+ Message-ID \S+$/);
    assert.match(
      await storedHead(inRange.data!),
      /^Received: from lb\.test \(\[203\.0\.113\.7\]\) by postlog\.test with ESMTP id /,
    );
    // the proxy's own address (127.0.0.1) is in no range, and neither is this client
    assert.match((await submit(v1('198.51.100.1'))).mail, /^530 /);
  });

  it('v2 over implicit TLS: failed logins are counted for the client the header names, not for the proxy', async () => {
    const session = (client: string, pass: string) =>
      smtpSession({ port: tlsPort, tls: true, proxyHeader: v2ipv6(client) }, async (say) => {
        await say('EHLO lb.test');
        return say(auth(tenant.smtp.username, pass));
      });
    assert.match(await session('2001:db8::7', tenant.smtp.password), /^235 /);
    for (let i = 0; i < 2; i++) assert.match(await session('2001:db8::7', 'wrong'), /^535 /);
    const refused = await firstReply(proxiedSocket({ port: tlsPort, tls: true, proxyHeader: v2ipv6('2001:db8::7') }));
    assert.match(refused.reply, /^421 4\.7\.0 Too many failed logins from your address/);
    // another client behind the same proxy (another /64) is not refused
    assert.match(await session('2001:db9::8', tenant.smtp.password), /^235 /);
  });

  it('refuses a PROXY header from outside the allow-list; the same peer without one is a client', async () => {
    for (const header of [v1('203.0.113.7'), v2ipv6('2001:db8::9')]) {
      const answer = await firstReply(
        proxiedSocket({ port, tls: false, localAddress: '127.0.0.2', proxyHeader: header }),
      );
      assert.match(answer.reply, /^421 /, answer.reply);
      assert.ok(answer.closed, 'the connection is closed');
      const overTls = await firstReply(
        proxiedSocket({ port: tlsPort, tls: true, localAddress: '127.0.0.2', proxyHeader: header }),
      );
      assert.ok(!overTls.reply.startsWith('220') && overTls.closed, overTls.reply);
    }
    const plain = await firstReply(proxiedSocket({ port, tls: false, localAddress: '127.0.0.2' }));
    assert.match(plain.reply, /^220 /);
  });

  it('closes a connection from the proxy that does not start with a valid header', async () => {
    for (const header of [Buffer.from('EHLO lb.test\r\n'), v1('not-an-address')]) {
      const answer = await firstReply(proxiedSocket({ port, tls: false, proxyHeader: header }));
      assert.equal(answer.reply, '(closed without a reply)');
    }
  });
});
