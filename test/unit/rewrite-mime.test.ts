import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer';
import PostalMime from 'postal-mime';
import { canonicalMessageBytes } from '../../domain/index.js';
import { prng } from '../helpers/random-mail.js';
import { takeTrackingOptOut } from '../../write-side/tracking/opt-out-header.js';
import { rewriteHtml, type RewriteOptions } from '../../write-side/tracking/rewrite-html.js';
import {
  decodeQuotedPrintable,
  planHtmlRewrite,
  rewriteHtmlParts,
  type HtmlRewrite,
} from '../../write-side/tracking/rewrite-mime.js';

const OPTIONS: RewriteOptions = {
  trackClicks: true,
  trackOpens: true,
  excludedDomains: [],
  clickUrl: (url) => `https://t.example/c/${Buffer.from(url).toString('base64url')}`,
  openUrl: () => 'https://t.example/o/pixel',
};
/** As personalizeRaw does it: the URL read in the part's charset. */
const rewrite: HtmlRewrite = (html, decode) =>
  rewriteHtml(html, { ...OPTIONS, clickUrl: (url) => OPTIONS.clickUrl(decode(url)) });
const clickedUrl = (tracked: string) => Buffer.from(tracked.split('/c/')[1]!, 'base64url').toString('utf8');

async function compose(options: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  const raw = await new MailComposer({
    from: 'App <app@sender.test>',
    to: 'reader@example.org',
    subject: 'Hello',
    messageId: '<fixed@sender.test>',
    date: new Date(Date.UTC(2026, 11, 6, 8, 0, 0)),
    ...options,
  })
    .compile()
    .build();
  const canonical = canonicalMessageBytes(raw, { maxLineBytes: 998 });
  assert.ok(canonical.ok);
  return canonical.value;
}

/** The bytes of a message before and after the body of its one HTML part, found by text search (not by the parser under test). */
function aroundHtmlBody(raw: Buffer): { before: Buffer; after: Buffer } {
  const text = raw.toString('latin1');
  const header = text.search(/^Content-Type: text\/html/im);
  assert.ok(header >= 0);
  const bodyStart = text.indexOf('\r\n\r\n', header) + 4;
  const next = text.indexOf('\r\n--', bodyStart);
  const bodyEnd = next === -1 ? text.length : next;
  return { before: raw.subarray(0, bodyStart), after: raw.subarray(bodyEnd) };
}

function assertOnlyHtmlBodyChanged(original: Buffer, rewritten: Buffer): void {
  const a = aroundHtmlBody(original);
  const b = aroundHtmlBody(rewritten);
  assert.ok(a.before.equals(b.before), 'everything before the HTML body is unchanged');
  assert.ok(a.after.equals(b.after), 'everything after the HTML body is unchanged');
}

function assertCanonical(raw: Buffer): void {
  const canonical = canonicalMessageBytes(raw, { maxLineBytes: 998 });
  assert.ok(canonical.ok, canonical.ok ? '' : canonical.error.message);
  assert.equal(canonical.value, raw, 'CRLF line ends, no line over 998 octets: nothing to change');
}

const HTML =
  '<html><body><p>Grüße ✉</p><a href="https://shop.example.com/offer?a=1&amp;b=2">Offer</a> ' +
  '<a href="mailto:help@example.com">Mail</a> <a data-pl-notrack href="https://keep.example.com/">Keep</a></body></html>';

describe('rewriting the HTML parts of a raw MIME message', () => {
  it('tracks a nodemailer message with text, quoted-printable HTML and an attachment; the rest stays byte for byte', async () => {
    const pdf = randomBytes(5000);
    const original = await compose({
      text: 'Hi, see https://shop.example.com/offer',
      html: HTML,
      attachments: [{ filename: 'invoice.pdf', content: pdf, contentType: 'application/pdf' }],
    });
    assert.match(original.toString('latin1'), /Content-Type: text\/html[\s\S]*?quoted-printable/);
    const out = rewriteHtmlParts(original, rewrite);
    assert.equal(out.rewritten, 1);
    assertOnlyHtmlBodyChanged(original, out.raw);
    assertCanonical(out.raw);
    const before = await PostalMime.parse(original);
    const email = await PostalMime.parse(out.raw);
    assert.equal(email.html, rewriteHtml(before.html!, OPTIONS), 'the decoded HTML is exactly the string rewrite');
    assert.equal(email.text, before.text);
    assert.equal(email.attachments.length, 1);
    assert.ok(
      Buffer.from(email.attachments[0]!.content as ArrayBuffer).equals(pdf),
      'the attachment is byte-identical',
    );
    const links = [...email.html!.matchAll(/href="(https:\/\/t\.example\/c\/[^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(links.map(clickedUrl), ['https://shop.example.com/offer?a=1&b=2']);
    assert.match(email.html!, /<img src="https:\/\/t\.example\/o\/pixel"[^>]*><\/body>/);
  });

  it('keeps base64 HTML in base64 (76-character lines)', async () => {
    const original = await compose({ html: HTML, textEncoding: 'base64' });
    const out = rewriteHtmlParts(original, rewrite);
    assert.equal(out.rewritten, 1);
    assertCanonical(out.raw);
    const email = await PostalMime.parse(out.raw);
    assert.equal(email.html, rewriteHtml((await PostalMime.parse(original)).html!, OPTIONS));
    const text = out.raw.toString('latin1');
    const body = text.slice(text.indexOf('\r\n\r\n', text.search(/^Content-Type: text\/html/im)) + 4);
    assert.ok(
      body
        .trimEnd()
        .split('\r\n')
        .every((l) => /^[A-Za-z0-9+/=]{1,76}$/.test(l)),
    );
    assert.match(text, /^Content-Transfer-Encoding: base64\r$/im);
  });

  it('finds the HTML in nested multiparts (mixed > alternative > related) and leaves inline images and attachments alone', async () => {
    const logo = randomBytes(3000);
    const csv = Buffer.from('a,b\r\n1,2\r\n');
    const html = `<html><body><img src="cid:logo@x"><a href="https://example.net/a">A</a></body></html>`;
    const original = await compose({
      text: 'plain',
      html,
      attachments: [
        { filename: 'logo.png', content: logo, contentType: 'image/png', cid: 'logo@x' },
        { filename: 'data.csv', content: csv, contentType: 'text/csv' },
      ],
    });
    const source = original.toString('latin1');
    assert.match(source, /multipart\/mixed[\s\S]*multipart\/alternative[\s\S]*multipart\/related/);
    const out = rewriteHtmlParts(original, rewrite);
    assert.equal(out.rewritten, 1);
    assertOnlyHtmlBodyChanged(original, out.raw);
    const email = await PostalMime.parse(out.raw);
    assert.equal(email.html, rewriteHtml((await PostalMime.parse(original)).html!, OPTIONS));
    const byName = new Map(email.attachments.map((a) => [a.filename, Buffer.from(a.content as ArrayBuffer)]));
    assert.ok(byName.get('logo.png')!.equals(logo));
    assert.ok(byName.get('data.csv')!.equals(csv));
  });

  it('reads non-UTF-8 HTML in its charset: the bytes of the text stay, the link is read as the charset says', async () => {
    // ISO-8859-1 in quoted-printable, as many older mailers write it
    const original = Buffer.from(
      [
        'From: app@sender.test',
        'To: reader@example.org',
        'Subject: caf=E9',
        'MIME-Version: 1.0',
        'Content-Type: text/html; charset="ISO-8859-1"',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        '<p>Caf=E9 cr=E8me</p><a href=3D"https://example.fr/menu?q=3Dcaf=E9">Menu</a>',
        '',
      ].join('\r\n'),
      'latin1',
    );
    const out = rewriteHtmlParts(original, rewrite);
    assert.equal(out.rewritten, 1);
    assertCanonical(out.raw);
    const email = await PostalMime.parse(out.raw);
    assert.match(email.html!, /<p>Café crème<\/p>/);
    const link = /href="([^"]+)"/.exec(email.html!)![1]!;
    assert.equal(clickedUrl(link), 'https://example.fr/menu?q=café');
    // the header, charset included, is as it was
    const head = (b: Buffer) => b.subarray(0, b.indexOf('\r\n\r\n'));
    assert.ok(head(out.raw).equals(head(original)));

    // windows-1252 in 8bit: the 0x80 (euro) byte is kept as the byte it was
    const eightBit = Buffer.concat([
      Buffer.from(
        'From: app@sender.test\r\nContent-Type: text/html; charset=windows-1252\r\n' +
          'Content-Transfer-Encoding: 8bit\r\n\r\n<p>',
      ),
      Buffer.from([0x80, 0x35]),
      Buffer.from('</p><a href="https://example.com/">x</a>\r\n'),
    ]);
    const out8 = rewriteHtmlParts(eightBit, rewrite);
    assert.equal(out8.rewritten, 1);
    assert.ok(out8.raw.includes(Buffer.from([0x3c, 0x70, 0x3e, 0x80, 0x35, 0x3c])), 'the raw byte 0x80 is kept');
    assert.equal((await PostalMime.parse(out8.raw)).html!.startsWith('<p>€5</p>'), true);
  });

  it('leaves HTML in charsets where ASCII bytes can be half a character (Shift_JIS, ISO-2022-JP) untracked', () => {
    for (const charset of ['shift_jis', 'iso-2022-jp', 'utf-16']) {
      const raw = Buffer.from(
        `From: a@sender.test\r\nContent-Type: text/html; charset=${charset}\r\n\r\n<a href="https://x.example/">x</a>\r\n`,
      );
      const out = rewriteHtmlParts(raw, rewrite);
      assert.equal(out.raw, raw, charset);
      assert.equal(out.rewritten, 0);
      assert.equal(planHtmlRewrite(raw).parts.length, 0);
    }
  });

  it('switches a 7bit part to quoted-printable when a rewritten line would pass 998 octets', () => {
    const line = `<p>${'x'.repeat(900)}<a href="https://example.com/long">L</a></p>`;
    const raw = Buffer.from(
      'From: a@sender.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b1"\r\n\r\n' +
        `--b1\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b1\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${line}\r\n--b1--\r\n`,
    );
    const out = rewriteHtmlParts(raw, rewrite);
    assert.equal(out.rewritten, 1);
    assertCanonical(out.raw);
    const text = out.raw.toString('latin1');
    assert.match(text, /Content-Type: text\/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n/);
    assert.ok(text.startsWith(raw.toString('latin1').slice(0, raw.indexOf('--b1\r\nContent-Type: text/html'))));
    assert.ok(text.endsWith('\r\n--b1--\r\n'));
    const html = decodeQuotedPrintable(Buffer.from(text.split('quoted-printable\r\n\r\n')[1]!.split('\r\n--b1')[0]!));
    assert.equal(html.toString(), rewriteHtml(line, OPTIONS));
  });

  it('keeps the preamble, the epilogue and the transport padding of boundaries', () => {
    const raw = Buffer.from(
      'From: a@sender.test\r\nContent-Type: multipart/alternative;\r\n boundary="=_b"\r\n\r\n' +
        'This is a multi-part message in MIME format.\r\n' +
        '--=_b  \r\nContent-Type: text/html; charset=utf-8\r\n\r\n<a href="https://example.com/">x</a>\r\n' +
        '--=_b--\r\nepilogue text\r\n',
    );
    const out = rewriteHtmlParts(raw, rewrite);
    assert.equal(out.rewritten, 1);
    const text = out.raw.toString('latin1');
    assert.ok(text.startsWith(raw.toString('latin1').slice(0, raw.indexOf('<a'))));
    assert.ok(text.endsWith('\r\n--=_b--\r\nepilogue text\r\n'));
    assert.match(text, /href="https:\/\/t\.example\/c\/[^"]+">x<\/a><img src="https:\/\/t\.example\/o\/pixel"/);
  });

  it('leaves a signed or encrypted message, or one with its sender’s DKIM signature, byte for byte alone', async () => {
    const inner = await compose({ html: HTML });
    const innerBody = inner.subarray(inner.indexOf('\r\n\r\n') + 4);
    const signed = Buffer.concat([
      Buffer.from(
        'From: a@sender.test\r\nMIME-Version: 1.0\r\n' +
          'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s1"\r\n\r\n' +
          `--s1\r\n${inner
            .subarray(0, inner.indexOf('\r\n\r\n'))
            .toString('latin1')
            .split('\r\n')
            .filter((l) => /^(Content-|MIME-|\s)/i.test(l))
            .join('\r\n')}\r\n\r\n`,
      ),
      innerBody,
      Buffer.from(
        '\r\n--s1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n' +
          'Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQE=\r\n--s1--\r\n',
      ),
    ]);
    assert.equal(planHtmlRewrite(inner).parts.length, 1);
    const out = rewriteHtmlParts(signed, rewrite);
    assert.equal(out.raw, signed);
    assert.equal(out.untrackable, 'signed-or-encrypted');
    assert.equal(planHtmlRewrite(signed).parts.length, 0);

    const smime = Buffer.from(
      'From: a@sender.test\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIAG\r\n',
    );
    assert.equal(rewriteHtmlParts(smime, rewrite).untrackable, 'signed-or-encrypted');

    const dkim = Buffer.concat([
      Buffer.from('DKIM-Signature: v=1; a=rsa-sha256; d=sender.test; s=s1;\r\n\tbh=x; b=y\r\n'),
      inner,
    ]);
    const outDkim = rewriteHtmlParts(dkim, rewrite);
    assert.equal(outDkim.raw, dkim);
    assert.equal(outDkim.untrackable, 'dkim-signed');
  });

  it('leaves an attached HTML file and a forwarded message (message/rfc822) alone', async () => {
    const page = Buffer.from('<html><body><a href="https://example.com/">page</a></body></html>');
    const forwarded = await compose({ html: '<a href="https://example.org/inner">inner</a>' });
    const original = await compose({
      text: 'see attached',
      attachments: [
        { filename: 'page.html', content: page, contentType: 'text/html' },
        { filename: 'fwd.eml', content: forwarded, contentType: 'message/rfc822' },
      ],
    });
    const out = rewriteHtmlParts(original, rewrite);
    assert.equal(out.rewritten, 0);
    assert.equal(out.raw, original);
  });
});

describe('rewriting damaged MIME', () => {
  it('never throws on cut or garbled messages, and what it writes is canonical mail', async () => {
    const whole = await compose({
      text: 'plain',
      html: HTML,
      attachments: [{ filename: 'a.bin', content: randomBytes(600), contentType: 'application/octet-stream' }],
    });
    const random = prng(23);
    const junk = [
      '--',
      '\r\n',
      '=',
      '=\r\n',
      'Content-Type: text/html\r\n',
      '<a href="https://x.example/">',
      '\r\n\r\n',
    ];
    let rewrittenSome = 0;
    for (let i = 0; i < 300; i++) {
      const text = whole.toString('latin1');
      const at = Math.floor(random() * text.length);
      const cut = random() < 0.5 ? text.slice(0, at) : `${text.slice(0, at)}${junk[i % junk.length]}${text.slice(at)}`;
      const canonical = canonicalMessageBytes(Buffer.from(cut, 'latin1'), { maxLineBytes: 998 });
      assert.ok(canonical.ok);
      const out = rewriteHtmlParts(canonical.value, rewrite);
      if (out.rewritten > 0) rewrittenSome++;
      const again = canonicalMessageBytes(out.raw, { maxLineBytes: 998 });
      assert.ok(again.ok, `case ${i}`);
      assert.ok(again.value.equals(out.raw), `case ${i}: CRLF line ends throughout`);
    }
    assert.ok(rewrittenSome > 50, `most damaged messages still have an HTML part to track (${rewrittenSome})`);
  });
});

describe('the tracking opt-out header of a raw message', () => {
  it('X-Postlog-Track: no (folded, any case) turns tracking off and is taken out; nothing else changes', () => {
    const raw = Buffer.from(
      'From: a@sender.test\r\nx-postlog-track:\r\n  No\r\nSubject: s\r\n\r\nX-Postlog-Track: no\r\n',
    );
    const out = takeTrackingOptOut(raw);
    assert.equal(out.optedOut, true);
    assert.equal(out.raw.toString(), 'From: a@sender.test\r\nSubject: s\r\n\r\nX-Postlog-Track: no\r\n');
  });

  it("honours Postal's X-AMP: skip; X-Postlog-Track: yes leaves the server's settings in charge; no field, same bytes", () => {
    const amp = takeTrackingOptOut(Buffer.from('X-AMP: skip\r\nFrom: a@sender.test\r\n\r\nbody\r\n'));
    assert.deepEqual([amp.optedOut, amp.raw.toString()], [true, 'From: a@sender.test\r\n\r\nbody\r\n']);
    const yes = takeTrackingOptOut(Buffer.from('From: a@sender.test\r\nX-Postlog-Track: yes\r\n\r\nbody\r\n'));
    assert.deepEqual([yes.optedOut, yes.raw.toString()], [false, 'From: a@sender.test\r\n\r\nbody\r\n']);
    const none = Buffer.from('From: a@sender.test\r\nX-AMP: other\r\n\r\nbody\r\n');
    const kept = takeTrackingOptOut(none);
    assert.equal(kept.optedOut, false);
    assert.equal(kept.raw, none);
  });
});

describe('quoted-printable decoding', () => {
  it('reads =XX octets and soft line breaks, and drops white space added at line ends', () => {
    assert.equal(decodeQuotedPrintable(Buffer.from('a=3Db=\r\nc  \r\nd=E9\t=\r\n')).toString('latin1'), 'a=bc\r\ndé\t');
    assert.equal(decodeQuotedPrintable(Buffer.from('50% =\r\n')).toString(), '50% ');
    assert.equal(decodeQuotedPrintable(Buffer.from('x = y')).toString(), 'x = y');
  });
});
