/**
 * The MIME composer of the send API (composeMime: the direct writer for text/HTML messages and
 * nodemailer's tree for the rest) on random subjects, display names, text and HTML bodies (any
 * Unicode, lone surrogates, long lines, every line end) and attachments: what it writes parses
 * back (postal-mime, as a receiver reads it) to the same subject, addresses, text, HTML and
 * attachment bytes, and its lines hold to mail's limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import PostalMime from 'postal-mime';
import { canonicalMessageBytes, MAX_LINE_BYTES } from '../../domain/index.js';
import { composeMime, type ComposeInput } from '../../write-side/send/compose.js';
import { fuzzRuns } from '../helpers/fuzz.js';

const piece = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(' ', '  ', '\t', '.', '..', '=', '=?', '?=', '=?UTF-8?B?eA==?=', 'é', '😀', '日本語'),
  },
  { weight: 1, arbitrary: fc.constantFrom('\ud800', '\udc00', '\u00a0', '\u200b', '\ufeff', '"', '\\', ',', '<', '>') },
  { weight: 1, arbitrary: fc.integer({ min: 70, max: 1200 }).map((n) => 'w'.repeat(n)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
);
const lineBreak = fc.constantFrom('\n', '\r\n', '\r');
const body = fc
  .array(fc.oneof({ weight: 4, arbitrary: piece }, { weight: 1, arbitrary: lineBreak }), {
    minLength: 1,
    maxLength: 30,
  })
  .map((p) => p.join(''));
/** What the send API lets through as a one-line value (it refuses CR, LF and NUL in headers). */
const oneLine = fc.array(piece, { maxLength: 8 }).map((p) => p.join('').replace(/[\r\n\u0000]/g, ' '));

// lengths as POST /v2/send allows them (v2-schemas.ts). Postal's /api/v1/send/message sets no limit on a file
// name: one of over ~990 ASCII characters without a space makes a line nodemailer cannot fold, and the message is
// refused (INVALID_MESSAGE_BYTES, "line N is … bytes long") rather than stored; see docs/testing.md.
const attachment = fc.record({
  filename: fc.oneof(
    fc.constantFrom('a.bin', 'notes.txt', 'résumé.pdf', `${'long-name-'.repeat(12)}.txt`, 'n'.repeat(255)),
    oneLine.map((s) => s.slice(0, 255)).filter((s) => s.trim() !== ''),
  ),
  contentType: fc.constantFrom('application/octet-stream', 'text/plain', 'image/png', 'application/pdf'),
  content: fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
});

const input = fc
  .record({
    fromName: oneLine.map((s) => s.slice(0, 200)),
    toName: oneLine.map((s) => s.slice(0, 200)),
    subject: oneLine.map((s) => s.slice(0, 998)),
    text: fc.option(body, { nil: undefined }),
    html: fc.option(
      body.map((b) => `<p>${b}</p>`),
      { nil: undefined },
    ),
    attachments: fc.array(attachment, { maxLength: 3 }),
  })
  .filter((i) => i.text !== undefined || i.html !== undefined);

/** A string as UTF-8 carries it: a lone surrogate becomes U+FFFD. */
const wellFormed = (s: string) => Buffer.from(s).toString();
/**
 * A header value as a reader gives it: blanks around it are no part of it (RFC 5322 unfolding, postal-mime trims),
 * and control characters, which no header may carry, are left out (nodemailer drops them from a name).
 */
const headerText = (s: string | undefined) =>
  wellFormed(s ?? '')
    .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '')
    // a BOM that starts an encoded word is a signature to its decoder, not text
    .replace(/\ufeff/g, '')
    .trim();
/**
 * A subject or name as a reader shows it. A value of printable ASCII with "=?" in it is written as given (as
 * nodemailer writes it: a pre-encoded subject passes through), and how a reader takes encoded-word look-alikes
 * in it is the reader's own rule: such a value is held to nothing but being read. Any other value reads back.
 */
function assertShown(read: string | undefined, sent: string, what: string) {
  if (/^[\x20-\x7e]*$/.test(sent) && sent.includes('=?')) return;
  assert.equal(headerText(read), headerText(sent), what);
}
/**
 * A body's lines: well-formed, every line end (CRLF, CR, LF: the composer writes a bare one as CRLF
 * in 7bit and quoted-printable, keeps it in base64) as LF. What a reader shows, compared line by line.
 */
const lines = (s: string) =>
  wellFormed(s)
    .replace(/\r\n|\r/g, '\n')
    // a UTF-8 decoder takes a leading BOM for a signature, not text (postal-mime's TextDecoder drops it)
    .replace(/^\ufeff/, '');
/** The body read back: its lines, or its lines and one more line end (postal-mime keeps the CRLF before a boundary). */
function assertSameLines(read: string | undefined, sent: string, what: string) {
  const got = lines(read ?? '');
  assert.ok(
    got === lines(sent) || got === `${lines(sent)}\n`,
    `${what}: ${JSON.stringify(got)} for ${JSON.stringify(sent)}`,
  );
}

const quoted = (name: string) => `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;

function composeInput(i: typeof input extends fc.Arbitrary<infer T> ? T : never): ComposeInput {
  return {
    from: `${quoted(i.fromName)} <sender@sender.test>`,
    to: [`${quoted(i.toName)} <rcpt@example.org>`],
    cc: [],
    subject: i.subject,
    text: i.text,
    html: i.html,
    attachments: i.attachments,
    headers: {},
    messageId: 'fuzz.1@postlog.test',
    date: new Date(Date.UTC(2026, 11, 6, 12, 0, 0)),
    received: 'from api ([127.0.0.1]) by postlog.test with HTTP; Sun, 06 Dec 2026 12:00:00 +0000',
  };
}

describe('fuzz: composed MIME parses back to what was asked for', () => {
  it('subject, addresses, text, HTML and attachment bytes survive; lines within limits', async () => {
    await fc.assert(
      fc.asyncProperty(input, async (i) => {
        const raw = await composeMime(composeInput(i));
        const canonical = canonicalMessageBytes(raw, { maxLineBytes: MAX_LINE_BYTES });
        // the accept path makes composed bytes canonical too (a bare LF of a 7bit body becomes CRLF): what it
        // stores must never be refused (NUL, a line over 998 bytes), and is what is read back here
        assert.ok(canonical.ok, `the accept path takes the composed MIME: ${JSON.stringify(canonical)}`);
        const email = await PostalMime.parse(canonical.value);
        assertShown(email.subject, i.subject, 'subject');
        assertShown(email.from?.name, i.fromName, 'From name');
        assert.equal(email.from && 'address' in email.from ? email.from.address : '', 'sender@sender.test');
        assertShown(email.to?.[0]?.name, i.toName, 'To name');
        if (i.text !== undefined) assertSameLines(email.text, i.text, 'text');
        if (i.html !== undefined) assertSameLines(email.html, i.html, 'html');
        assert.deepEqual(
          email.attachments.map((a) => Buffer.from(a.content as ArrayBuffer).toString('hex')),
          i.attachments.map((a) => a.content.toString('hex')),
        );
      }),
      fuzzRuns(400),
    );
  });
});
