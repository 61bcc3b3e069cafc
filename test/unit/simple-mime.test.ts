import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { canonicalMessageBytes, MAX_LINE_BYTES } from '../../domain/index.js';
import { composeMime, mailComposer, type ComposeInput } from '../../write-side/send/compose.js';
import { simpleMime } from '../../write-side/send/simple-mime.js';
import { prng, randomHeaders, randomInput, randomMailbox } from '../helpers/random-mail.js';

/** nodemailer's own streaming build of the same input: the reference. */
async function reference(input: ComposeInput): Promise<string> {
  return (await mailComposer(input, 'b0undary').compile().build()).toString('latin1');
}

const BENCH_LIKE: ComposeInput = {
  from: 'Bench <bench@bench.test>',
  to: ['rcpt1@d1.bench'],
  cc: [],
  subject: 'Delivery benchmark 1',
  text: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor.\n'.repeat(40),
  attachments: [],
  headers: {},
  messageId: '0190f1c2-aaaa-7bbb-8ccc-0123456789ab@postlog.test',
  date: new Date(Date.UTC(2026, 10, 21, 12, 0, 0)),
  received: 'from api ([127.0.0.1]) by postlog.test with HTTP; Sat, 21 Nov 2026 12:00:00 GMT',
};

describe('direct MIME writer for text/HTML messages', () => {
  it('writes a typical API message itself, byte for byte what nodemailer builds', async () => {
    for (const variant of [
      {},
      { html: '<p>Hello</p>' },
      { text: undefined, html: '<p>Hello</p>' },
      {
        to: ['"Ann Smith" <ann@example.org>', 'Bob <bob@example.org>'],
        cc: ['cc@example.org'],
        replyTo: 'reply@bench.test',
        sender: 'sender@bench.test',
      },
    ]) {
      const input = { ...BENCH_LIKE, ...variant };
      const direct = simpleMime(input, 'b0undary');
      assert.ok(direct, `written directly: ${JSON.stringify(variant)}`);
      assert.equal(direct.toString('latin1'), await reference(input), JSON.stringify(variant));
    }
  });

  it('matches nodemailer on 3,000 generated messages (addresses, custom headers, bodies of every kind) and writes most of them itself', async () => {
    const rand = prng(20261122);
    let direct = 0;
    for (let i = 0; i < 3000; i++) {
      const base = randomInput(rand, i);
      const input: ComposeInput = {
        ...base,
        from: rand() < 0.5 ? base.from : randomMailbox(rand),
        to: Array.from({ length: 1 + Math.floor(rand() * 3) }, () => randomMailbox(rand)),
        cc: rand() < 0.3 ? [randomMailbox(rand)] : [],
        replyTo: rand() < 0.2 ? randomMailbox(rand) : undefined,
        sender: rand() < 0.1 ? randomMailbox(rand) : undefined,
        headers: { ...base.headers, ...randomHeaders(rand) },
        subject: rand() < 0.1 ? pickSubject(rand) : base.subject,
      };
      const written = simpleMime(input, 'b0undary');
      if (!written) continue;
      direct++;
      assert.equal(
        written.toString('latin1'),
        await reference(input),
        `case ${i}: ${JSON.stringify(input).slice(0, 400)}`,
      );
    }
    // the generator leans towards shapes the writer hands back; even so most messages are plain
    assert.ok(direct > 1000, `only ${direct} of 3000 were written directly`);
  });

  it('hands back what it does not write itself: attachments, empty bodies, a headers object nodemailer reads as one header', () => {
    assert.equal(
      simpleMime(
        { ...BENCH_LIKE, attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('a') }] },
        'b0undary',
      ),
      undefined,
    );
    assert.equal(simpleMime({ ...BENCH_LIKE, text: '' }, 'b0undary'), undefined);
    assert.equal(simpleMime({ ...BENCH_LIKE, text: undefined, html: undefined }, 'b0undary'), undefined);
    assert.equal(simpleMime({ ...BENCH_LIKE, headers: { key: 'X-A', value: 'b' } }, 'b0undary'), undefined);
    // nodemailer drops a Bcc header, and a field of the message replaces a custom header of its name
    for (const key of ['bcc', 'Subject', 'received', 'content-type', 'mime-version'])
      assert.equal(simpleMime({ ...BENCH_LIKE, headers: { [key]: 'x@example.org' } }, 'b0undary'), undefined, key);
    // nodemailer writes a header named by a number before Received (JavaScript's key order)
    assert.equal(simpleMime({ ...BENCH_LIKE, headers: { '123': 'x' } }, 'b0undary'), undefined);
  });

  it('matches nodemailer where values need its encoders: unicode, quotes, IDN domains, folding, blank values', async () => {
    const cases: Partial<ComposeInput>[] = [
      { subject: 'Grüße aus Köln' },
      { subject: 'say "hi"' },
      { subject: '   ' },
      { subject: '=?utf-8?q?not=20really?=' },
      { subject: `${'long '.repeat(40)}subject` },
      { from: '"Jörg Ünicode" <joerg@jõgeva.ee>' },
      { to: ['UPPER@Example.ORG', 'Smith, Ann <ann@example.org>'] },
      { to: ['"Smith, Ann" <ann@example.org>'] },
      // a domain ending in a number is an IPv4 address to nodemailer (127.1 is written 127.0.0.1)
      { to: ['rcpt@127.1', 'rcpt@0x7f.1', 'rcpt@1.2.3.4'] },
      {
        headers: {
          'In-Reply-To': 'abc@example.org',
          'x-md5': 'plain',
          'List-Id': 'Grüße <list.example.org>',
          'X-Empty': '  ',
        },
      },
      // long lines: quoted-printable when there is a letter in it, else base64 (as nodemailer picks)
      { text: `${'0123456789 '.repeat(20)}\n` },
      { text: `${'0123456789 '.repeat(20)}x\n` },
      // long lines with a control character: not plain, so nodemailer counts letters to choose
      { text: `${'Lorem ipsum '.repeat(20)}\x07 bell\n` },
      { html: `<p>${'\x1b'.repeat(300)}x</p>`, text: undefined },
      // short lines (7bit as it is) and lines just past 76, whatever ends them; over 128 KB nodemailer
      // does not look at the lines (quoted-printable)
      { text: 'a short line\r\n'.repeat(50) },
      { text: `${'x'.repeat(76)}\n${'y'.repeat(76)}\r${'z'.repeat(76)}\r\n${'w'.repeat(76)}` },
      { text: `${'x'.repeat(76)}\r\n${'y'.repeat(77)}` },
      { text: `${'x'.repeat(76)}\n\n${'y'.repeat(77)}\n` },
      { text: `${'a'.repeat(70)}\x0b\n` },
      { text: 'wrapped text of a reply\n'.repeat(6000) },
      { html: '<p class="x">short</p>\n'.repeat(100), text: undefined },
      { received: `from api ([2001:db8::1]) by ${'host.'.repeat(20)}example with HTTP; Sat, 21 Nov 2026 12:00:00 GMT` },
    ];
    for (const [i, extra] of cases.entries()) {
      const input = { ...BENCH_LIKE, ...extra };
      const written = simpleMime(input, 'b0undary');
      assert.ok(written, `case ${i} is written directly`);
      assert.equal(written.toString('latin1'), await reference(input), `case ${i}`);
    }
  });

  // found by test/fuzz/compose-mime: "Subject: " and 990 letters is a 999-byte line, which the accept path refused
  it('a subject of 990 letters without a blank is written as encoded words that fold (fuzz counterexample)', async () => {
    const subject = 'w'.repeat(990);
    const raw = await composeMime({ ...BENCH_LIKE, subject });
    const canonical = canonicalMessageBytes(raw, { maxLineBytes: MAX_LINE_BYTES });
    assert.ok(canonical.ok, JSON.stringify(canonical));
    assert.equal((await PostalMime.parse(raw)).subject, subject);
  });
});

function pickSubject(rand: () => number): string {
  const subjects = ['', '   ', 'say "hi"', '=?utf-8?q?x?=', 'Grüße', `${'word '.repeat(30)}end`, 'plain'];
  return subjects[Math.floor(rand() * subjects.length)]!;
}
