import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { smtpSession } from '../helpers/smtp-raw.js';

/**
 * SMTP-IP credentials (Postal's): clients whose address is in a server's range submit without
 * AUTH, for that server only, with the From header held to its domains as after AUTH. The
 * listener is dual-stack (::), so an IPv4 client arrives as ::ffff:127.0.0.1.
 */
describe('SMTP submission: SMTP-IP credentials', () => {
  let t: TestApp;
  let tenant: Tenant;
  let port: number;
  const send = (host: string, from = 'app@sender.test', auth?: { user: string; pass: string }) =>
    nodemailer
      .createTransport({
        host,
        port,
        secure: false,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
        ...(auth ? { auth } : {}),
      })
      .sendMail({ from, to: 'x@example.org', subject: 'by address', text: 'x' });
  const admin = (method: string, path: string, body?: unknown) =>
    http(t.url, method, path, { body, headers: { authorization: `Bearer ${tenant.adminToken}` } });
  const addRange = async (cidr: string) => {
    const res = await admin('POST', `/v2/servers/${tenant.server.id}/credentials`, { kind: 'smtp-ip', cidr });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { credential: { id: string; identifier: string; kind: string }; secret: string };
  };
  const refusedWith = (code: number) => (e: { responseCode?: number }) => e.responseCode === code;

  before(async () => {
    port = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp',
      POSTLOG_SMTP_HOST: '::',
      POSTLOG_SUBMISSION_PORT: String(port),
      POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
      POSTLOG_DATA_DIR: tempDataDir('postlog-smtp-ip-'),
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => t.stop());

  it('refuses a range that is not one (or too wide), and a cidr on another kind', async () => {
    for (const body of [
      { kind: 'smtp-ip' },
      { kind: 'smtp-ip', cidr: 'not an address' },
      { kind: 'smtp-ip', cidr: '10.0.0.0/33' },
      { kind: 'smtp-ip', cidr: '0.0.0.0/0' },
      { kind: 'smtp-ip', cidr: '::/0' },
      { kind: 'api', cidr: '10.0.0.0/8' },
    ]) {
      const res = await admin('POST', `/v2/servers/${tenant.server.id}/credentials`, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    }
  });

  it('relays nothing for a client outside every range', async () => {
    const other = await addRange('192.0.2.0/24');
    assert.equal(other.credential.identifier, '192.0.2.0/24');
    await assert.rejects(send('127.0.0.1'), refusedWith(530));
    await assert.rejects(send('::1'), refusedWith(530));
  });

  it('takes mail without AUTH from 127.0.0.1 in 127.0.0.0/8, for its server and its domains only', async () => {
    const range = await addRange('127.0.0.1/8');
    assert.equal(range.credential.kind, 'smtp-ip');
    assert.equal(range.credential.identifier, '127.0.0.0/8', 'stored as the network');
    assert.equal(range.secret, '');
    const info = await send('127.0.0.1');
    const id = /queued as (\d+) Message-ID \S+$/.exec(info.response)![1]!;
    const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
    assert.equal(accepted!.metadata.serverId, tenant.server.id);
    assert.equal(accepted!.metadata.actor, 'smtp:ip-credential');
    await assert.rejects(send('127.0.0.1', 'ceo@bank.test'), refusedWith(550));
    // ::1 is not in an IPv4 range
    await assert.rejects(send('::1'), refusedWith(530));
    // a client in the range that logs in still can, as its login
    const authed = await send('127.0.0.1', 'app@sender.test', {
      user: tenant.smtp.username,
      pass: tenant.smtp.password,
    });
    assert.match(authed.response, /^250 /);
  });

  it('takes IPv6 ranges too (::1/128), and stops at once when the credential is revoked', async () => {
    const v6 = await addRange('::1');
    assert.equal(v6.credential.identifier, '::1/128');
    assert.match((await send('::1')).response, /^250 /);
    const list = await admin('GET', `/v2/servers/${tenant.server.id}/credentials`);
    for (const c of list.body.credentials as { id: string; kind: string }[])
      if (c.kind === 'smtp-ip') assert.equal((await admin('DELETE', `/v2/credentials/${c.id}`)).status, 204);
    await assert.rejects(send('::1'), refusedWith(530));
    await assert.rejects(send('127.0.0.1'), refusedWith(530));
  });

  it('closes a connection after the third MAIL FROM without AUTH', async () => {
    const replies = await smtpSession({ port, tls: false }, async (say) => [
      await say('EHLO client.test'),
      await say('MAIL FROM:<a@sender.test>'),
      await say('MAIL FROM:<a@sender.test>'),
      await say('MAIL FROM:<a@sender.test>'),
    ]);
    assert.deepEqual(
      replies.slice(1).map((r) => r.slice(0, 9)),
      ['530 5.7.0', '530 5.7.0', '421 4.7.0'],
    );
  });
});
