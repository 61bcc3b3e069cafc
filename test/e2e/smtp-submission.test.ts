import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { smtpSession } from '../helpers/smtp-raw.js';
import { tempDataDir } from '../helpers/postlog-process.js';

/** The first lines a client sees: greeting and EHLO answer, without TLS. */
async function plainEhlo(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    let sent = false;
    socket.on('data', (d) => {
      buffer += d.toString();
      if (!sent && /^220 /m.test(buffer)) {
        sent = true;
        socket.write('EHLO client.test\r\n');
      }
      if (sent && /^250 /m.test(buffer.split('\r\n').slice(1).join('\n'))) {
        socket.end('QUIT\r\n');
        resolve(buffer);
      }
    });
    socket.on('error', reject);
  });
}

describe('SMTP submission (STARTTLS and implicit TLS, AUTH after TLS only)', () => {
  let t: TestApp;
  let tenant: Tenant;
  let port: number;
  let tlsPort: number;
  /** `from`: the client's loopback address (127.0.0.x), so that failures of one test throttle no other. */
  const transport = (
    o: {
      secure?: boolean;
      user?: string;
      pass?: string;
      port?: number;
      method?: string;
      from?: string;
      /** one connection for every message sent through it */
      pooled?: boolean;
    } = {},
  ) =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: o.port ?? (o.secure ? tlsPort : port),
      secure: o.secure ?? false,
      requireTLS: !o.secure,
      tls: { rejectUnauthorized: false },
      ...(o.from ? { localAddress: o.from } : {}),
      ...(o.pooled ? { pool: true, maxConnections: 1 } : {}),
      ...(o.user !== undefined ? { auth: { user: o.user, pass: o.pass ?? '', method: o.method } } : {}),
    });
  const message = { from: 'app@sender.test', to: 'x@example.org', subject: 'x', text: 'x' };
  const smtpLogin = async (name: string) => {
    const created = await t.app.tenancy.createCredential(systemActor('test'), tenant.server.id, { kind: 'smtp', name });
    assert.ok(created.ok);
    return { id: created.value.credential.id, user: created.value.credential.identifier, pass: created.value.secret };
  };
  const count = async () => (await t.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n;

  before(async () => {
    port = await freePort();
    tlsPort = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp',
      POSTLOG_SUBMISSION_PORT: String(port),
      POSTLOG_SUBMISSION_TLS_PORT: String(tlsPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-smtp-'),
      POSTLOG_MAX_MESSAGE_BYTES: '200000',
      POSTLOG_SMTP_AUTH_FAILURES_PER_MINUTE: '3',
      POSTLOG_SMTP_MAX_RECIPIENTS: '5',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => t.stop());

  it('accepts an authenticated message over STARTTLS: one message per recipient, 250 after the commit', async () => {
    const info = await transport({ user: tenant.smtp.username, pass: tenant.smtp.password }).sendMail({
      from: 'App <app@sender.test>',
      to: ['one@example.org', 'two@example.net'],
      cc: 'three@example.com',
      subject: 'Over SMTP',
      text: 'héllo ✉',
    });
    const ids = /queued as ([\d,]+)/.exec(info.response)![1]!.split(',');
    assert.equal(ids.length, 3);
    for (const id of ids) {
      const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
      assert.equal(accepted!.type, 'MessageAccepted');
      assert.equal((accepted!.data as { source: string }).source, 'smtp');
      assert.equal((accepted!.data as { subject: string }).subject, 'Over SMTP');
    }
  });

  it('accepts over implicit TLS too, and counts SMTP messages in the metrics', async () => {
    const info = await transport({ secure: true, user: tenant.smtp.username, pass: tenant.smtp.password }).sendMail({
      from: 'app@sender.test',
      to: 'tls@example.org',
      subject: 'TLS',
      text: 'x',
    });
    assert.match(info.response, /^250 2\.0\.0 Ok: queued as \d+ Message-ID \S+@\S+$/);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /postlog_smtp_messages_total\{listener="submission-tls",outcome="accepted"\} 1/);
    assert.match(metrics, /postlog_smtp_messages_total\{listener="submission",outcome="accepted"\} 1/);
  });

  it('offers AUTH only after TLS, and relays nothing without it', async () => {
    const ehlo = await plainEhlo(port);
    assert.match(ehlo, /STARTTLS/);
    assert.doesNotMatch(ehlo, /AUTH/);
    assert.match(ehlo, /SIZE 200000/);
    await assert.rejects(
      transport().sendMail({ from: 'app@sender.test', to: 'victim@example.org', subject: 'relay?', text: 'x' }),
      (e: { responseCode?: number }) => e.responseCode === 530,
    );
    // a client that skipped STARTTLS is told what comes first
    const plain = await smtpSession({ port, tls: false }, async (say) => {
      await say('EHLO client.test');
      return say('MAIL FROM:<app@sender.test>');
    });
    assert.equal(plain, '530 5.7.0 Authentication required: STARTTLS first, then AUTH');
  });

  it("refuses a From domain that is not the server's, and too many recipients, appending nothing", async () => {
    const before = await count();
    const authed = transport({ user: tenant.smtp.username, pass: tenant.smtp.password });
    await assert.rejects(
      authed.sendMail({ from: 'ceo@bank.test', to: 'x@example.org', subject: 'x', text: 'x' }),
      (e: { responseCode?: number; response?: string }) => e.responseCode === 550 && /5\.7\.1/.test(e.response ?? ''),
    );
    assert.equal(await count(), before);
    // the sixth recipient is refused (452, try later); the message goes to the first five
    const many = Array.from({ length: 6 }, (_, i) => `r${i}@example.org`);
    const info = await authed.sendMail({ from: 'app@sender.test', to: many, subject: 'x', text: 'x' });
    assert.deepEqual(info.rejected, ['r5@example.org']);
    assert.equal(/queued as ([\d,]+)/.exec(info.response)![1]!.split(',').length, 5);
  });

  it('enforces SIZE before accepting the data', async () => {
    const before = await count();
    await assert.rejects(
      transport({ user: tenant.smtp.username, pass: tenant.smtp.password }).sendMail({
        from: 'app@sender.test',
        to: 'x@example.org',
        subject: 'big',
        text: 'x'.repeat(300_000),
      }),
      (e: { responseCode?: number }) => e.responseCode === 552,
    );
    assert.equal(await count(), before);
  });

  it('logs in with CRAM-MD5 with the right password and refuses a wrong one', async () => {
    const cram = (pass: string) =>
      transport({ user: tenant.smtp.username, pass, method: 'CRAM-MD5', from: '127.0.0.2' });
    const info = await cram(tenant.smtp.password).sendMail(message);
    assert.match(info.response, /^250 2\.0\.0 Ok: queued as \d+ Message-ID \S+@\S+$/);
    await assert.rejects(cram('wrong').sendMail(message), (e: { responseCode?: number; response?: string }) => {
      assert.equal(e.responseCode, 535);
      assert.match(e.response ?? '', /5\.7\.8 Authentication credentials invalid/);
      return true;
    });
  });

  it('keeps SMTP passwords sealed in the table: no column holds the password', async () => {
    const login = await smtpLogin('sealed');
    const { rows } = await t.db.pool.query('SELECT * FROM credentials WHERE id = $1', [login.id]);
    const row = rows[0] as Record<string, unknown>;
    for (const [column, value] of Object.entries(row))
      assert.ok(!String(value).includes(login.pass), `${column} holds the password`);
    assert.match(String(row.secret_sealed), /^psb1\.[0-9a-f]{12}\.[\w-]{16}\.[\w-]+$/);
    // a sealed value is bound to its row: copied to another login it does not open
    const other = await smtpLogin('other');
    await t.db.pool.query('UPDATE credentials SET secret_sealed = $1 WHERE id = $2', [row.secret_sealed, other.id]);
    await assert.rejects(
      transport({ user: other.user, pass: login.pass, method: 'CRAM-MD5', from: '127.0.0.3' }).sendMail(message),
      (e: { responseCode?: number; response?: string }) => e.responseCode === 535 && /CRAM-MD5/.test(e.response ?? ''),
    );
  });

  it('answers CRAM-MD5 for a login made before sealing with a clear 535; PLAIN still works for it', async () => {
    const login = await smtpLogin('older');
    await t.db.pool.query('UPDATE credentials SET secret_sealed = NULL WHERE id = $1', [login.id]);
    await assert.rejects(
      transport({ user: login.user, pass: login.pass, method: 'CRAM-MD5', from: '127.0.0.4' }).sendMail(message),
      (e: { responseCode?: number; response?: string }) => {
        assert.equal(e.responseCode, 535);
        assert.match(e.response ?? '', /5\.7\.8 This login cannot use CRAM-MD5: use PLAIN or LOGIN/);
        return true;
      },
    );
    const info = await transport({ user: login.user, pass: login.pass, from: '127.0.0.4' }).sendMail(message);
    assert.match(info.response, /^250 /);
  });

  it('counts failed CRAM-MD5 logins in the throttle like any other', async () => {
    const from = '127.0.0.5';
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        transport({ user: tenant.smtp.username, pass: 'wrong', method: 'CRAM-MD5', from }).sendMail(message),
        (e: { responseCode?: number }) => e.responseCode === 535,
      );
    await assert.rejects(
      transport({ user: tenant.smtp.username, pass: tenant.smtp.password, method: 'CRAM-MD5', from }).sendMail(message),
      (e: { responseCode?: number }) => e.responseCode === 421,
    );
  });

  it('gives a message without a Message-ID one in its bytes: the id the reply names, for every recipient', async () => {
    // one connection for both messages: each gets an id of its own
    const pooled = transport({
      user: tenant.smtp.username,
      pass: tenant.smtp.password,
      from: '127.0.0.7',
      pooled: true,
    });
    const send = async (subject: string) => {
      const raw = `From: app@sender.test\r\nTo: a@example.org\r\nSubject: ${subject}\r\n\r\nNo Message-ID.\r\n`;
      const info = await pooled.sendMail({
        envelope: { from: 'app@sender.test', to: ['a@example.org', 'b@example.net'] },
        raw,
      });
      const [, ids, rfcMessageId] = /queued as ([\d,]+) Message-ID (\S+)$/.exec(info.response)!;
      for (const id of ids!.split(',')) {
        const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
        const data = accepted!.data as { rfcMessageId: string; contentHash: string };
        assert.equal(data.rfcMessageId, rfcMessageId);
        const { rows } = await t.db.pool.query('SELECT body FROM contents WHERE sha256 = $1', [data.contentHash]);
        const head = (rows[0].body as Buffer).toString().split('\r\n\r\n')[0]!;
        assert.deepEqual(head.match(/^Message-ID:.*$/gim), [`Message-ID: <${rfcMessageId}>`], head);
      }
      return rfcMessageId!;
    };
    try {
      const first = await send('one');
      const second = await send('two');
      assert.match(first, /^[0-9a-f-]{36}@postlog\.test$/);
      assert.notEqual(first, second);
    } finally {
      pooled.close();
    }
  });

  it("leaves the client's address and name out of the Received header when the server is in privacy mode", async () => {
    const storedHead = async (response: string) => {
      const id = /queued as (\d+) Message-ID \S+$/.exec(response)![1]!;
      const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
      const { rows } = await t.db.pool.query('SELECT body FROM contents WHERE sha256 = $1', [
        (accepted!.data as { contentHash: string }).contentHash,
      ]);
      return (rows[0].body as Buffer).toString().split('\r\n\r\n')[0]!;
    };
    const login = { user: tenant.smtp.username, pass: tenant.smtp.password, from: '127.0.0.6' };
    const open = await storedHead((await transport(login).sendMail(message)).response);
    assert.match(open, /^Received: from \S+ \(\[127\.0\.0\.6\]\) by postlog\.test with ESMTPSA id \S+; /);
    const changed = await t.app.tenancy.updateServer(systemActor('test'), tenant.server.id, { privacyMode: true });
    assert.ok(changed.ok && changed.value.privacyMode);
    try {
      const head = await storedHead((await transport(login).sendMail(message)).response);
      assert.match(head, /^Received: by postlog\.test with ESMTPSA id \S+; /);
      const clientName = /^Received: from (\S+)/.exec(open)![1]!;
      assert.ok(!head.includes('127.0.0.6') && !head.includes(clientName), head);
    } finally {
      await t.app.tenancy.updateServer(systemActor('test'), tenant.server.id, { privacyMode: false });
    }
  });

  it("refuses a Sender header outside the server's domains unless the server allows it", async () => {
    const authed = transport({ user: tenant.smtp.username, pass: tenant.smtp.password, from: '127.0.0.7' });
    const withSender = (sender: string) => authed.sendMail({ ...message, sender });
    const refused = (who: string) => (e: { responseCode?: number; response?: string }) => {
      assert.equal(e.responseCode, 550);
      assert.match(e.response ?? '', new RegExp(`^550 5\\.7\\.1 .*${who.replace(/\./g, '\\.')}`));
      return true;
    };
    const before = await count();
    await assert.rejects(withSender('ops@partner.test'), refused('the Sender ops@partner.test'));
    await assert.rejects(
      authed.sendMail({
        envelope: { from: 'app@sender.test', to: 'x@example.org' },
        raw: 'From: app@sender.test\r\nSender: a@sender.test\r\nSender: b@sender.test\r\nTo: x@example.org\r\n\r\nx\r\n',
      }),
      refused('more than one Sender header'),
    );
    assert.equal(await count(), before, 'nothing appended');
    assert.match((await withSender('Team <team@sender.test>')).response, /^250 /, "the server's own domain");

    const admin = { authorization: `Bearer ${tenant.adminToken}` };
    const path = `/v2/servers/${tenant.server.id}`;
    const bad = await http(t.url, 'PATCH', path, { body: { allowedSenders: ['not an address'] }, headers: admin });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const set = await http(t.url, 'PATCH', path, {
      body: { allowedSenders: ['Ops@Partner.test', 'agency.test'] },
      headers: admin,
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual((await http(t.url, 'GET', path, { headers: admin })).body.allowedSenders, [
      'ops@partner.test',
      'agency.test',
    ]);
    const allowed = transport({ user: tenant.smtp.username, pass: tenant.smtp.password, from: '127.0.0.7' });
    for (const sender of ['ops@partner.test', 'OPS@PARTNER.TEST', 'anyone@agency.test'])
      assert.match((await allowed.sendMail({ ...message, sender })).response, /^250 /, sender);
    await assert.rejects(allowed.sendMail({ ...message, sender: 'other@partner.test' }), refused('other@partner.test'));
    await assert.rejects(allowed.sendMail({ ...message, sender: 'x@sub.agency.test' }), refused('x@sub.agency.test'));
  });

  it('keeps a postmaster address per server, at one of its verified domains, shown with the server', async () => {
    const admin = { authorization: `Bearer ${tenant.adminToken}` };
    const path = `/v2/servers/${tenant.server.id}`;
    const patch = (postmasterAddress: string | null) =>
      http(t.url, 'PATCH', path, { body: { postmasterAddress }, headers: admin });
    assert.equal((await http(t.url, 'GET', path, { headers: admin })).body.postmasterAddress, null, 'none at first');
    const elsewhere = await patch('postmaster@bank.test');
    assert.equal(elsewhere.status, 400, JSON.stringify(elsewhere.body));
    assert.equal(elsewhere.body.code, 'INVALID');
    assert.match(elsewhere.body.message, /bank\.test is not a verified domain of this server/);
    for (const bad of ['not an address', 'Postmaster <postmaster@sender.test>'])
      assert.equal((await patch(bad)).status, 400, bad);
    const set = await patch(' Postmaster@SENDER.test ');
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.postmasterAddress, 'Postmaster@sender.test');
    assert.equal((await http(t.url, 'GET', path, { headers: admin })).body.postmasterAddress, 'Postmaster@sender.test');
    assert.equal((await patch(null)).body.postmasterAddress, null);
  });

  it('rejects bad credentials and then refuses the client for a while, on every SMTP listener at once', async () => {
    // the limit is 3 a minute for the process: two failures on 587 and one on 465 reach it
    for (const secure of [false, false, true]) {
      await assert.rejects(
        transport({ secure, user: tenant.smtp.username, pass: 'wrong' }).sendMail({
          from: 'app@sender.test',
          to: 'x@example.org',
          text: 'x',
        }),
        (e: { responseCode?: number }) => e.responseCode === 535,
      );
    }
    for (const secure of [false, true]) {
      await assert.rejects(
        transport({ secure, user: tenant.smtp.username, pass: tenant.smtp.password }).sendMail({
          from: 'app@sender.test',
          to: 'x@example.org',
          text: 'x',
        }),
        (e: { responseCode?: number }) => e.responseCode === 421,
        secure ? 'refused on 465' : 'refused on 587',
      );
    }
  });
});
