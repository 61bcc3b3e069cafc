/**
 * Open and click tracking of messages the client composed itself: SMTP submission and Postal's
 * send/raw, through the real listeners, MTA and tracking endpoints, to a receiving SMTP server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import PostalMime from 'postal-mime';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

const HTML =
  '<html><body><p>Grüße</p><a href="https://shop.example.com/offer?a=1&amp;b=2">Offer</a> ' +
  '<a href="mailto:help@example.com">Mail us</a></body></html>';

describe('tracking of SMTP and send/raw messages', () => {
  let t: TestApp;
  let a: Tenant;
  let sink: SmtpSink;
  let submissionPort = 0;
  let dkimRecords: { name: string; value: string }[] = [];
  const pdf = randomBytes(20_000);
  const key = { 'X-Server-API-Key': '' };

  const events = async (id: string) =>
    (await http(t.url, 'GET', `/v2/messages/${id}/history`, { headers: key })).body.events as {
      type: string;
      data: Record<string, unknown>;
    }[];
  const waitFor = async (id: string, type: string) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = (await events(id)).filter((e) => e.type === type);
      if (found.length > 0) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} on message ${id}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** The copy the receiving server got for a recipient, once the message is delivered. */
  const received = async (id: string, to: string) => {
    await waitFor(id, 'MessageDelivered');
    const mail = sink.received.find((m) => m.to.includes(to));
    assert.ok(mail, `a copy for ${to}`);
    return { raw: mail.raw, email: await PostalMime.parse(mail.raw) };
  };
  const dkimResult = async (raw: Buffer) => {
    const verdict = (await dkimVerify(raw, {
      resolver: async (name: string) => dkimRecords.filter((r) => r.name === name).map((r) => [r.value]),
    } as never)) as unknown as { results: { signingDomain: string; status: { result: string } }[] };
    return verdict.results.map((r) => `${r.signingDomain}:${r.status.result}`);
  };
  const trackedLinks = (html: string) =>
    [...html.matchAll(/href="([^"]+\/t\/c\/[^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
  const claimOf = (url: string) =>
    JSON.parse(Buffer.from(url.slice(url.lastIndexOf('/') + 1).split('.')[0]!, 'base64url').toString()) as {
      m: string;
      u?: string;
    };
  const sendRaw = async (raw: Buffer, rcpt: string) => {
    const res = await http(t.url, 'POST', '/api/v1/send/raw', {
      headers: key,
      body: { mail_from: 'app@a.test', rcpt_to: [rcpt], data: raw.toString('base64') },
    });
    assert.equal(res.body.status, 'success', JSON.stringify(res.body));
    return String(res.body.data.messages[rcpt].id);
  };
  const compose = async (html: string, headers: Record<string, string> = {}) =>
    new MailComposer({
      from: 'App <app@a.test>',
      to: 'x@example.org',
      subject: 'Raw',
      text: 'Hi',
      html,
      headers,
      attachments: [{ filename: 'invoice.pdf', content: pdf, contentType: 'application/pdf' }],
    })
      .compile()
      .build();

  before(async () => {
    const port = await freePort();
    const sinkPort = await freePort();
    submissionPort = await freePort();
    sink = await startSmtpSink('127.0.0.12', sinkPort, { tls: false });
    t = await startTestApp({
      POSTLOG_HTTP_PORT: String(port),
      POSTLOG_PUBLIC_URL: `http://127.0.0.1:${port}`,
      POSTLOG_ROLES: 'api,smtp,mta,projector,tracking',
      POSTLOG_SUBMISSION_PORT: String(submissionPort),
      POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
      POSTLOG_DATA_DIR: tempDataDir('postlog-tracking-raw-'),
      POSTLOG_SMART_HOST: `127.0.0.12:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      // the tracked copies of one message may take twice this, all recipients together
      POSTLOG_MAX_MESSAGE_BYTES: '100000',
    });
    a = await createTenant(t.app, { domain: 'a.test' });
    key['X-Server-API-Key'] = a.apiKey;
    const domains = (await t.app.tenancy.listDomains(systemActor('test'), a.server.id)) as {
      ok: true;
      value: { dnsRecords: { purpose: string; name: string; value: string }[] }[];
    };
    dkimRecords = domains.value[0]!.dnsRecords.filter((r) => r.purpose === 'dkim');
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
  });

  it('tracks an SMTP submission per recipient: links and pixel with its own message id, DKIM valid, attachment intact', async () => {
    const info = await nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: submissionPort,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
        auth: { user: a.smtp.username, pass: a.smtp.password },
      })
      .sendMail({
        from: 'App <app@a.test>',
        to: ['one@example.org', 'two@example.org'],
        subject: 'Over SMTP',
        text: 'Hi',
        html: HTML,
        attachments: [{ filename: 'invoice.pdf', content: pdf, contentType: 'application/pdf' }],
      });
    const ids = /queued as ([\d,]+)/.exec(info.response)![1]!.split(',');
    assert.equal(ids.length, 2);
    for (const [i, to] of ['one@example.org', 'two@example.org'].entries()) {
      const { raw, email } = await received(ids[i]!, to);
      const links = trackedLinks(email.html!);
      assert.equal(links.length, 1, email.html);
      assert.deepEqual(claimOf(links[0]!), {
        k: 'c',
        m: ids[i],
        s: a.server.id,
        u: 'https://shop.example.com/offer?a=1&b=2',
      });
      const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(email.html!)![1]!;
      assert.equal(claimOf(pixel).m, ids[i]);
      assert.match(email.html!, /href="mailto:help@example.com"/);
      assert.match(email.html!, /<p>Grüße<\/p>/);
      assert.equal(email.text?.trim(), 'Hi');
      assert.equal(email.attachments.length, 1);
      assert.ok(Buffer.from(email.attachments[0]!.content as ArrayBuffer).equals(pdf), 'the attachment is intact');
      assert.deepEqual(await dkimResult(raw), ['a.test:pass']);
    }
    // a click on the first recipient's link is recorded on its message, and sends the reader on
    const link = trackedLinks((await received(ids[0]!, 'one@example.org')).email.html!)[0]!;
    const click = await fetch(link, { redirect: 'manual' });
    assert.equal(click.status, 302);
    assert.equal(click.headers.get('location'), 'https://shop.example.com/offer?a=1&b=2');
    const clicks = await waitFor(ids[0]!, 'MessageLinkClicked');
    assert.equal(clicks[0]!.data.url, 'https://shop.example.com/offer?a=1&b=2');
  });

  it('tracks a send/raw message the same way', async () => {
    const raw = await compose(HTML);
    const id = await sendRaw(raw, 'raw@example.org');
    const { raw: got, email } = await received(id, 'raw@example.org');
    const links = trackedLinks(email.html!);
    assert.equal(links.length, 1);
    assert.equal(claimOf(links[0]!).m, id);
    assert.match(email.html!, /\/t\/o\//);
    assert.ok(Buffer.from(email.attachments[0]!.content as ArrayBuffer).equals(pdf));
    assert.deepEqual(await dkimResult(got), ['a.test:pass']);
    const open = await fetch(/<img src="([^"]+\/t\/o\/[^"]+)"/.exec(email.html!)![1]!);
    assert.equal(open.status, 200);
    await waitFor(id, 'MessageOpened');
  });

  it('X-Postlog-Track: no (or X-AMP: skip) sends the message untracked, without the header', async () => {
    for (const [header, value, to] of [
      ['X-Postlog-Track', 'no', 'optout@example.org'],
      ['X-AMP', 'skip', 'amp@example.org'],
    ] as const) {
      const raw = await compose(HTML, { [header]: value });
      const id = await sendRaw(raw, to);
      const { raw: got, email } = await received(id, to);
      assert.equal(trackedLinks(email.html!).length, 0);
      assert.doesNotMatch(email.html!, /\/t\/o\//);
      assert.equal(
        email.headers.some((h) => h.key === header.toLowerCase()),
        false,
        `${header} is taken out`,
      );
      // the rest is the submitted message as it was: its body byte for byte
      const body = (b: Buffer) => b.subarray(b.indexOf('\r\n\r\n'));
      assert.ok(body(got).equals(body(raw)));
      assert.deepEqual(await dkimResult(got), ['a.test:pass']);
    }
  });

  it('sends a multipart/signed message byte for byte as submitted', async () => {
    const inner = await new MailComposer({ html: HTML, text: 'Hi' }).compile().build();
    // the signed entity: the composed message's Content-* fields and its body
    const text = inner.toString('latin1');
    const cut = text.indexOf('\r\n\r\n');
    const contentFields = text
      .slice(0, cut)
      .split(/\r\n(?![ \t])/)
      .filter((f) => /^Content-/i.test(f));
    const signedContent = `${contentFields.join('\r\n')}${text.slice(cut)}`;
    assert.match(signedContent, /href=3D"https:\/\/shop\.example\.com/);
    const signed = Buffer.from(
      'From: app@a.test\r\nTo: signed@example.org\r\nSubject: Signed\r\nMessage-ID: <signed@a.test>\r\n' +
        'MIME-Version: 1.0\r\n' +
        'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="sig"\r\n\r\n' +
        `--sig\r\n${signedContent}\r\n` +
        '--sig\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        'MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAA==\r\n--sig--\r\n',
      'latin1',
    );
    const id = await sendRaw(signed, 'signed@example.org');
    const { raw: got } = await received(id, 'signed@example.org');
    assert.ok(
      got.subarray(got.length - signed.length).equals(signed),
      'the message after our trace headers is as sent',
    );
  });

  it('sends a message whose copies would pass twice the size limit untracked, as one copy', async () => {
    const raw = await compose(HTML); // about 28 KB: 10 copies pass 200 KB, 2 copies (the SMTP test) do not
    assert.ok(raw.length * 10 > 200_000 && raw.length * 2 < 200_000, String(raw.length));
    const rcpts = Array.from({ length: 10 }, (_, i) => `many${i}@example.org`);
    const res = await http(t.url, 'POST', '/api/v1/send/raw', {
      headers: key,
      body: { mail_from: 'app@a.test', rcpt_to: rcpts, data: raw.toString('base64') },
    });
    assert.equal(res.body.status, 'success', JSON.stringify(res.body));
    for (const to of [rcpts[0]!, rcpts[9]!]) {
      const { raw: got, email } = await received(String(res.body.data.messages[to].id), to);
      assert.equal(trackedLinks(email.html!).length, 0);
      assert.ok(got.subarray(got.length - raw.length).equals(raw));
    }
  });

  it("follows the server's settings: with opens and clicks off, HTML goes out as written", async () => {
    const b = await createTenant(t.app, { domain: 'b.test' });
    await t.app.tenancy.updateServer(systemActor('test'), b.server.id, { trackOpens: false, trackClicks: false });
    const raw = Buffer.from((await compose(HTML)).toString('latin1').replace(/app@a\.test/g, 'app@b.test'), 'latin1');
    const res = await http(t.url, 'POST', '/api/v1/send/raw', {
      headers: { 'X-Server-API-Key': b.apiKey },
      body: { mail_from: 'app@b.test', rcpt_to: ['off@example.org'], data: raw.toString('base64') },
    });
    assert.equal(res.body.status, 'success', JSON.stringify(res.body));
    const id = String(res.body.data.messages['off@example.org'].id);
    const deadline = Date.now() + 15_000;
    while (!sink.received.some((m) => m.to.includes('off@example.org')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const got = sink.received.find((m) => m.to.includes('off@example.org'))!.raw;
    assert.ok(id);
    assert.ok(got.subarray(got.length - raw.length).equals(raw));
  });
});
