import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { smtpRaw } from '../helpers/smtp-raw.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

/** The probe's message: a bare CR hides `From: ceo@bank.test` inside X-Pad for a reader that splits at LF. */
const SMUGGLED_FROM =
  'X-Pad: x\rFrom: ceo@bank.test\r\nFrom: a@sender.test\r\nTo: t@rcpt.test\r\nSubject: s\r\n\r\nbody\r\n';

describe('raw message bytes: line ends, NULs and line lengths are decided at the entry', () => {
  let t: TestApp;
  let tenant: Tenant;
  let sink: SmtpSink;
  let tlsPort: number;
  let inboundPort: number;
  let dkimTxt: [string, string][];
  const auth = () => ({ user: tenant.smtp.username, pass: tenant.smtp.password });
  const acceptedCount = async () =>
    (await t.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted'"))
      .rows[0]!.n;
  const sendRaw = (data: Buffer, to = 'r@example.org') =>
    http(t.url, 'POST', '/api/v1/send/raw', {
      body: { mail_from: 'a@sender.test', rcpt_to: [to], data: data.toString('base64') },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
  const storedBody = async (id: string | number): Promise<Buffer> => {
    const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
    const { rows } = await t.db.pool.query('SELECT body FROM contents WHERE sha256 = $1', [
      (accepted!.data as { contentHash: string }).contentHash,
    ]);
    return rows[0].body as Buffer;
  };
  const deliveredTo = async (to: string) => {
    const deadline = Date.now() + 20_000;
    while (!sink.received.some((m) => m.to.includes(to)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const mail = sink.received.find((m) => m.to.includes(to));
    assert.ok(mail, `${to} received the message`);
    return mail;
  };
  const dkimResult = async (raw: Buffer) => {
    const verdict = await dkimVerify(raw, {
      resolver: async (name: string, rr: string) => {
        const found = dkimTxt.filter(([n]) => n === name).map(([, v]) => [v]);
        return rr === 'TXT' && found.length > 0
          ? found
          : Promise.reject(Object.assign(new Error('no'), { code: 'ENOTFOUND' }));
      },
    } as never);
    return (verdict as { results: { status: { result: string } }[] }).results.map((r) => r.status.result);
  };
  /** Every line ends with CRLF: no CR or LF on its own. */
  const onlyCrlf = (b: Buffer) => !/\r(?!\n)|(?<!\r)\n/.test(b.toString('latin1'));

  before(async () => {
    tlsPort = await freePort();
    inboundPort = await freePort();
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.8', sinkPort, { tls: false });
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp,mta,projector,inbound',
      POSTLOG_SUBMISSION_PORT: String(await freePort()),
      POSTLOG_SUBMISSION_TLS_PORT: String(tlsPort),
      POSTLOG_INBOUND_PORT: String(inboundPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-bytes-'),
      POSTLOG_MAX_MESSAGE_BYTES: String(4 * 1024 * 1024),
      POSTLOG_SMART_HOST: `127.0.0.8:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_DNS_SERVERS: '127.0.0.1:9',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    const domains = (await t.app.tenancy.listDomains(systemActor('test'), tenant.server.id)) as {
      ok: true;
      value: { dnsRecords: { purpose: string; name: string; value: string }[] }[];
    };
    dkimTxt = domains.value[0]!.dnsRecords.filter((r) => r.purpose === 'dkim').map((r) => [r.name, r.value]);
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
  });

  it('a bare CR cannot hide a second From header: SMTP submission answers 550 5.7.1 and appends nothing', async () => {
    const before = await acceptedCount();
    const reply = await smtpRaw({
      port: tlsPort,
      tls: true,
      auth: auth(),
      from: 'a@sender.test',
      to: 't@rcpt.test',
      data: Buffer.from(SMUGGLED_FROM),
    });
    assert.match(reply, /^550 5\.7\.1 .*more than one From header/);
    assert.equal(await acceptedCount(), before);
  });

  it('nor over /api/v1/send/raw: UnauthenticatedFromAddress, nothing appended', async () => {
    const before = await acceptedCount();
    const res = await sendRaw(Buffer.from(SMUGGLED_FROM));
    assert.equal(res.body.data.code, 'UnauthenticatedFromAddress', JSON.stringify(res.body));
    assert.match(res.body.data.message, /more than one From header/);
    // a bare LF hides nothing either
    const lf = await sendRaw(Buffer.from(SMUGGLED_FROM.replace('x\rFrom', 'x\nFrom')));
    assert.equal(lf.body.data.code, 'UnauthenticatedFromAddress', JSON.stringify(lf.body));
    assert.equal(await acceptedCount(), before);
  });

  it('bare CR and bare LF line ends become CRLF at the entry: what is stored, signed and delivered is one set of bytes', async () => {
    const data =
      'From: a@sender.test\nTo: lf@example.org\nSubject: Unix line ends\nMessage-ID: <lf@sender.test>\n\n' +
      'first line\nsecond\rthird\r\n\r\nlast';
    const reply = await smtpRaw({
      port: tlsPort,
      tls: true,
      auth: auth(),
      from: 'a@sender.test',
      to: 'lf@example.org',
      data: Buffer.from(data),
    });
    const id = /queued as (\d+)/.exec(reply)?.[1];
    assert.ok(id, reply);
    const stored = await storedBody(id);
    assert.ok(onlyCrlf(stored), JSON.stringify(stored.toString()));
    assert.ok(
      stored
        .toString()
        .endsWith(
          'From: a@sender.test\r\nTo: lf@example.org\r\nSubject: Unix line ends\r\nMessage-ID: <lf@sender.test>\r\n\r\n' +
            'first line\r\nsecond\r\nthird\r\n\r\nlast\r\n',
        ),
    );

    const raw = await sendRaw(Buffer.from(data.replace('lf@', 'lf2@')), 'lf2@example.org');
    assert.equal(raw.body.status, 'success', JSON.stringify(raw.body));
    assert.ok(onlyCrlf(await storedBody(raw.body.data.messages['lf2@example.org'].id)));

    for (const to of ['lf@example.org', 'lf2@example.org']) {
      const mail = await deliveredTo(to);
      assert.ok(onlyCrlf(mail.raw), `delivered to ${to} with CRLF only`);
      assert.ok(
        mail.raw.toString().endsWith('\r\n\r\nfirst line\r\nsecond\r\nthird\r\n\r\nlast\r\n'),
        'the body as stored',
      );
      assert.deepEqual(await dkimResult(mail.raw), ['pass'], `the signature covers the bytes delivered to ${to}`);
    }
  });

  it('a line over 998 bytes is refused at submission with a clear 5xx, never relayed', async () => {
    const before = await acceptedCount();
    const long = `From: a@sender.test\r\nTo: t@example.org\r\nSubject: long\r\n\r\nshort\r\n${'x'.repeat(999)}\r\n`;
    const reply = await smtpRaw({
      port: tlsPort,
      tls: true,
      auth: auth(),
      from: 'a@sender.test',
      to: 't@example.org',
      data: Buffer.from(long),
    });
    assert.match(reply, /^554 5\.6\.0 line 6 is 999 bytes long; mail allows at most 998 bytes a line/);
    const res = await sendRaw(Buffer.from(long));
    assert.equal(res.body.status, 'error');
    assert.equal(res.body.data.code, 'ValidationError');
    assert.match(res.body.data.message, /^data: line 6 is 999 bytes long/);
    // a long header line too
    const header = await sendRaw(Buffer.from(`From: a@sender.test\r\nX-Long: ${'y'.repeat(1000)}\r\n\r\nbody\r\n`));
    assert.match(header.body.data.message, /line 2 \(the X-Long header\) is 1008 bytes long; .*fold the header/);
    // exactly 998 is fine
    const fine = await sendRaw(Buffer.from(long.replace('x'.repeat(999), 'x'.repeat(998))));
    assert.equal(fine.body.status, 'success', JSON.stringify(fine.body));
    assert.equal(await acceptedCount(), before + 1);
  });

  it('a NUL byte is refused on submission, send/raw and the inbound MX', async () => {
    const before = await acceptedCount();
    const withNul = Buffer.from('From: a@sender.test\r\nTo: t@example.org\r\nSubject: nul\r\n\r\nbefore\0after\r\n');
    const reply = await smtpRaw({
      port: tlsPort,
      tls: true,
      auth: auth(),
      from: 'a@sender.test',
      to: 't@example.org',
      data: withNul,
    });
    assert.match(reply, /^554 5\.6\.0 the message contains a NUL byte \(line 5\)/);
    const res = await sendRaw(withNul);
    assert.match(res.body.data.message, /^data: the message contains a NUL byte \(line 5\)/);
    const inbound = await smtpRaw({
      port: inboundPort,
      tls: false,
      from: 'someone@example.org',
      to: 'postmaster@postlog.test',
      data: withNul,
    });
    assert.match(inbound, /^554 5\.6\.0 the message contains a NUL byte/);
    assert.equal(await acceptedCount(), before);
  });

  it('the inbound MX refuses a message it cannot parse for good (a header section over 2 MB: 552; parts whose headers pass the limit: 554), not with a 4xx retried forever', async () => {
    const line = `X-Filler: ${'z'.repeat(900)}\r\n`;
    const header = line.repeat(Math.ceil((2 * 1024 * 1024) / line.length) + 10);
    const data = Buffer.from(
      `From: someone@example.org\r\nTo: postmaster@postlog.test\r\n${header}Subject: big\r\n\r\nbody\r\n`,
    );
    const reply = await smtpRaw({
      port: inboundPort,
      tls: false,
      from: 'someone@example.org',
      to: 'postmaster@postlog.test',
      data,
    });
    assert.match(reply, /^552 5\.3\.4 the header section is larger than/);
    // the parts' headers count too (postal-mime's limit is over all of them): refused for good, not 451
    const part = `Content-Type: text/plain\r\n${line.repeat(900)}\r\nhello\r\n`;
    const multipart = Buffer.from(
      'From: someone@example.org\r\nTo: postmaster@postlog.test\r\nSubject: parts\r\n' +
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' +
        `--b\r\n${part}--b\r\n${part}--b\r\n${part}--b--\r\n`,
    );
    const parts = await smtpRaw({
      port: inboundPort,
      tls: false,
      from: 'someone@example.org',
      to: 'postmaster@postlog.test',
      data: multipart,
    });
    assert.match(parts, /^554 5\.6\.0 The message cannot be parsed/);
  });

  it('the v2 API composes no long line: a 5,000-byte HTML line leaves quoted-printable, signed and delivered whole', async () => {
    const html = `<p>${'word '.repeat(1000)}</p>`;
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'a@sender.test', to: ['html@example.org'], subject: 'Long HTML', html },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const mail = await deliveredTo('html@example.org');
    const longest = Math.max(
      ...mail.raw
        .toString('latin1')
        .split('\r\n')
        .map((l) => l.length),
    );
    assert.ok(longest <= 998, `longest line ${longest}`);
    assert.deepEqual(await dkimResult(mail.raw), ['pass']);
    // a header the composer cannot fold (no space in 1,500 characters) is refused before anything is stored
    const before = await acceptedCount();
    const unfoldable = await http(t.url, 'POST', '/v2/messages', {
      body: {
        from: 'a@sender.test',
        to: ['html@example.org'],
        subject: 'unfoldable',
        text: 'x',
        headers: { 'X-Long': 'y'.repeat(1500) },
      },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(unfoldable.status, 400, JSON.stringify(unfoldable.body));
    assert.deepEqual(unfoldable.body.fields?.[0]?.path, 'headers.X-Long');
    assert.match(unfoldable.body.fields[0].message, /without a space/);
    // a Subject of 995 characters without a space is encoded by the composer, not refused
    const subject = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'a@sender.test', to: ['subject@example.org'], subject: 'S'.repeat(995), text: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(subject.status, 202, JSON.stringify(subject.body));
    const longestSubjectLine = Math.max(
      ...(await deliveredTo('subject@example.org')).raw
        .toString('latin1')
        .split('\r\n')
        .map((l) => l.length),
    );
    assert.ok(longestSubjectLine <= 998, `longest line ${longestSubjectLine}`);
    assert.equal(await acceptedCount(), before + 1);
  });
});
