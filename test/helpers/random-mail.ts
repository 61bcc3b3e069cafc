import type { ComposeInput } from '../../write-side/send/compose.js';

// Generated messages for the differential tests of our MIME writers against nodemailer's.

/** A small deterministic PRNG (mulberry32): the same cases on every run, many of them. */
export function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'Hello',
  ' ',
  'world',
  '.',
  '\n',
  '\r\n',
  '\r',
  '  ',
  '\t',
  'é',
  'ü',
  'ß',
  '€',
  '😀',
  '日本語',
  'Привет',
  '=',
  '=3D',
  '.',
  '\n.\n',
  'a'.repeat(75),
  'b'.repeat(76),
  'c'.repeat(77),
  'x'.repeat(200),
  ' trailing   \n',
  'From me\n',
  '<b>bold</b>',
  '&amp;',
  '\u0000',
];

export function text(rand: () => number, pieces: number): string {
  let s = '';
  for (let i = 0; i < pieces; i++) s += PIECES[Math.floor(rand() * PIECES.length)]!;
  return s;
}

export function randomInput(rand: () => number, i: number): ComposeInput {
  const attachments = Array.from({ length: rand() < 0.3 ? 1 + Math.floor(rand() * 2) : 0 }, (_, k) => {
    const kind = rand();
    const bytes = Math.floor(rand() * 400);
    return kind < 0.4
      ? {
          filename: `data-${k}.bin`,
          contentType: 'application/octet-stream',
          content: Buffer.from(Array.from({ length: bytes }, () => Math.floor(rand() * 256))),
        }
      : kind < 0.8
        ? {
            filename: `notes-${k}.txt`,
            contentType: 'text/plain',
            content: Buffer.from(text(rand, 1 + Math.floor(rand() * 30))),
          }
        : {
            filename: `forwarded-${k}.eml`,
            contentType: 'message/rfc822',
            content: Buffer.from(`Subject: inner\r\n\r\n${text(rand, 5)}\r\n`),
          };
  });
  const hasText = rand() < 0.8;
  const hasHtml = !hasText || rand() < 0.5;
  return {
    from: rand() < 0.5 ? 'Sender <sender@example.test>' : '"Jörg Ünicode" <sender@example.test>',
    to: [
      rand() < 0.5
        ? `rcpt${i}@example.org`
        : `"${text(rand, 2).replace(/[\r\n"\\\u0000]/g, '')}" <rcpt${i}@example.org>`,
    ],
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

const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

const NAMES = [
  'Ann',
  'Ann Smith',
  'Ann  Smith',
  ' Ann',
  'Ann ',
  'a_b 42',
  "O'Brien",
  'Smith, Ann',
  'Jörg',
  'Dr. Who',
  'x=?y?=',
  'Back\\slash',
  'Tab\tName',
  '',
];
const LOCALS = ['rcpt', 'first.last', 'UPPER', 'a+tag', 'a_b-c', 'a..b', '.a', 'üser', 'with space', 'x'];
const DOMAINS = [
  'example.org',
  'Example.ORG',
  'd1.bench',
  'sub.d1.bench',
  'xn--jgeva-dua.ee',
  'jõgeva.ee',
  'a--b.org',
  '-bad.org',
  'b-.org',
  '[127.0.0.1]',
  'localhost',
  '127.1',
  '0x7f.1',
  '10.0.0.010',
  '12',
  '1.2.3.4',
  'a.b2',
  'x.0x1',
];

/** A mailbox in one of the shapes a caller writes (bare, named, quoted, broken), plain or not. */
export function randomMailbox(rand: () => number): string {
  const address = `${pick(rand, LOCALS)}@${pick(rand, DOMAINS)}`;
  const name = pick(rand, NAMES);
  const shape = rand();
  if (shape < 0.3) return address;
  if (shape < 0.6) return `${name} <${address}>`;
  if (shape < 0.9) return `"${name}" <${address}>`;
  return pick(rand, [
    `"${name} <${address}>`,
    `${name}" <${address}>`,
    `<${address}>`,
    `${name}<${address}>`,
    `${name} <${address}`,
  ]);
}

const HEADER_KEYS = [
  'X-Campaign',
  'x-lower-case',
  'X-MD5',
  'x-smtpapi',
  'In-Reply-To',
  'References',
  'Content-Id',
  'List-Id',
  'Resent-To',
  'key',
  'value',
  '123',
  '0',
  '1x',
];
const HEADER_VALUES = [
  'plain value',
  'with "quotes"',
  'an =?utf-8?q?x?= word',
  'Grüße',
  '   ',
  '',
  'tab\tinside',
  '<id@example.org>',
  'a@example.org b@example.org',
  'y'.repeat(200),
  `${'word '.repeat(30)}end`,
];

/** Custom headers, from none to several, plain and not. */
export function randomHeaders(rand: () => number): Record<string, string> {
  const headers: Record<string, string> = {};
  const count = Math.floor(rand() * 4);
  for (let i = 0; i < count; i++) headers[pick(rand, HEADER_KEYS)] = pick(rand, HEADER_VALUES);
  return headers;
}
