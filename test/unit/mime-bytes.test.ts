import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer';
import { mailComposer, type ComposeInput } from '../../write-side/send/compose.js';
import { mimeBytes } from '../../write-side/send/mime-bytes.js';

/** A small deterministic PRNG (mulberry32): the same cases on every run, many of them. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'Hello', ' ', 'world', '.', '\n', '\r\n', '\r', '  ', '\t', 'é', 'ü', 'ß', '€', '😀', '日本語', 'Привет', '=', '=3D', '.', '\n.\n',
  'a'.repeat(75), 'b'.repeat(76), 'c'.repeat(77), 'x'.repeat(200), ' trailing   \n', 'From me\n', '<b>bold</b>', '&amp;', '\u0000',
];

function text(rand: () => number, pieces: number): string {
  let s = '';
  for (let i = 0; i < pieces; i++) s += PIECES[Math.floor(rand() * PIECES.length)]!;
  return s;
}

function randomInput(rand: () => number, i: number): ComposeInput {
  const attachments = Array.from({ length: rand() < 0.3 ? 1 + Math.floor(rand() * 2) : 0 }, (_, k) => {
    const kind = rand();
    const bytes = Math.floor(rand() * 400);
    return kind < 0.4
      ? { filename: `data-${k}.bin`, contentType: 'application/octet-stream', content: Buffer.from(Array.from({ length: bytes }, () => Math.floor(rand() * 256))) }
      : kind < 0.8
        ? { filename: `notes-${k}.txt`, contentType: 'text/plain', content: Buffer.from(text(rand, 1 + Math.floor(rand() * 30))) }
        : { filename: `forwarded-${k}.eml`, contentType: 'message/rfc822', content: Buffer.from(`Subject: inner\r\n\r\n${text(rand, 5)}\r\n`) };
  });
  const hasText = rand() < 0.8;
  const hasHtml = !hasText || rand() < 0.5;
  return {
    from: rand() < 0.5 ? 'Sender <sender@example.test>' : '"Jörg Ünicode" <sender@example.test>',
    to: [rand() < 0.5 ? `rcpt${i}@example.org` : `"${text(rand, 2).replace(/[\r\n"\\\u0000]/g, '')}" <rcpt${i}@example.org>`],
    cc: rand() < 0.2 ? ['cc@example.org'] : [],
    replyTo: rand() < 0.2 ? 'reply@example.test' : undefined,
    subject: text(rand, Math.floor(rand() * 12)).replace(/[\r\n\u0000]/g, ' '),
    text: hasText ? text(rand, Math.floor(rand() * 60)) : undefined,
    html: hasHtml ? `<p>${text(rand, Math.floor(rand() * 60))}</p>` : undefined,
    attachments,
    headers: rand() < 0.3 ? { 'X-Campaign': `spring ${'y'.repeat(Math.floor(rand() * 120))}` } : {},
    messageId: `${i}.test@postlog.test`,
    date: new Date(Date.UTC(2026, 10, 21, 12, 0, i % 60)),
    received: 'from api ([127.0.0.1]) by postlog.test with HTTP; Sat, 21 Nov 2026 12:00:00 +0000',
  };
}

describe('synchronous MIME writer', () => {
  it('writes byte for byte what nodemailer build() writes, over 600 generated messages', async () => {
    const rand = prng(20261121);
    for (let i = 0; i < 600; i++) {
      const input = randomInput(rand, i);
      const fast = mimeBytes(mailComposer(input, 'b0undary').compile());
      assert.ok(fast, `case ${i}: the tree has only strings and Buffers, so it is written synchronously`);
      // a tree of its own: writing a tree changes it (headers are added and ordered)
      const streamed = await mailComposer(input, 'b0undary').compile().build();
      assert.equal(fast.toString('latin1'), streamed.toString('latin1'), `case ${i}: ${JSON.stringify(input).slice(0, 300)}`);
    }
  });

  it('matches for large bodies (quoted-printable past its 64 KB slices, base64 of a multiple of a line and not) and empty parts', async () => {
    const cases: Partial<ComposeInput>[] = [
      { text: `${'Grüße aus Köln, '.repeat(6000)}  \n` },
      { text: 'z'.repeat(200_000) },
      { html: `<div>${'日本語のテキスト'.repeat(20_000)}</div>` },
      { text: 'plain', attachments: [{ filename: 'a.bin', contentType: 'application/octet-stream', content: Buffer.alloc(57 * 100, 7) }] },
      { text: 'plain', attachments: [{ filename: 'b.bin', contentType: 'application/octet-stream', content: Buffer.alloc(57 * 100 + 1, 9) }] },
      { text: '' },
      { text: 'ends with a lone CR\r' },
      { text: 'ends with LF\n' },
      // the root is the attachment itself, with nothing in it
      { text: '', attachments: [{ filename: 'empty.bin', contentType: 'application/octet-stream', content: Buffer.alloc(0) }] },
      { text: '', attachments: [{ filename: 'empty.eml', contentType: 'message/rfc822', content: Buffer.alloc(0) }] },
      { text: 'x', attachments: [{ filename: 'empty.txt', contentType: 'text/plain', content: Buffer.alloc(0) }] },
    ];
    for (const [i, extra] of cases.entries()) {
      const input = { ...randomInput(prng(i), i), text: undefined, html: undefined, attachments: [], ...extra };
      const fast = mimeBytes(mailComposer(input, 'b0undary').compile());
      assert.ok(fast);
      assert.equal(fast.toString('latin1'), (await mailComposer(input, 'b0undary').compile().build()).toString('latin1'), `edge case ${i}`);
    }
  });

  it('leaves content it cannot read synchronously (a stream) to the streaming builder', async () => {
    const root = new MailComposer({ from: 'a@example.test', to: 'b@example.org', text: 'x', attachments: [{ filename: 's.txt', content: Readable.from(['streamed']) }] }).compile();
    assert.equal(mimeBytes(root), undefined);
    assert.match((await root.build()).toString(), /c3RyZWFtZWQ=/);
  });
});
