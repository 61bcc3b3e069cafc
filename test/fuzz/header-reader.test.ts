/**
 * The header reader of the accept path (readSubmittedHeaders) against postal-mime, the library it
 * stands in for, on random header sections: folding, RFC 2047 encoded words, every kind of line
 * end, NULs, long lines and empty values. It never throws; where postal-mime reads a section, the
 * reader gives the same fields, Subject and Message-ID; it refuses exactly what postal-mime refuses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import PostalMime from 'postal-mime';
import { readSubmittedHeaders } from '../../write-side/send/submitted-headers.js';
import { fuzzRuns, lineEnd } from '../helpers/fuzz.js';

async function postalMime(raw: Buffer) {
  try {
    const email = await PostalMime.parse(raw);
    return {
      ok: true as const,
      value: {
        headers: email.headers.map((h) => ({ key: h.key, value: h.value })),
        subject: email.subject ?? '',
        rfcMessageId: email.messageId?.replace(/^.*</, '').replace(/>.*$/, '').trim() || undefined,
      },
    };
  } catch (error) {
    return { ok: false as const, error: (error as Error).message };
  }
}

/** An RFC 2047 encoded word of any text, B or Q, in UTF-8 or Latin-1, sometimes malformed. */
const encodedWord = fc
  .tuple(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('B', 'Q', 'b', 'q'), fc.boolean())
  .map(([text, kind, latin1]) => {
    const bytes = latin1 ? Buffer.from(text, 'latin1') : Buffer.from(text);
    const payload =
      kind.toUpperCase() === 'B'
        ? bytes.toString('base64')
        : [...bytes]
            .map((b) =>
              /[A-Za-z0-9]/.test(String.fromCharCode(b))
                ? String.fromCharCode(b)
                : `=${b.toString(16).toUpperCase().padStart(2, '0')}`,
            )
            .join('');
    return `=?${latin1 ? 'ISO-8859-1' : 'UTF-8'}?${kind}?${payload}?=`;
  });

const piece = fc.oneof(
  fc.constantFrom(
    'plain',
    'Ann <ann@example.org>',
    '<id.1@example.org>',
    '"q, n"',
    ':',
    '(c)',
    ' ',
    '\t',
    '',
    '<',
    '>',
  ),
  fc.constantFrom('\u0000', '\r', '\n', '\u00a0', 'Jürgen', '✉', '=?bad?X?x?=', '=?UTF-8?B?', '?='),
  encodedWord,
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.integer({ min: 900, max: 3000 }).map((n) => 'x'.repeat(n)),
);

const name = fc.oneof(
  fc.constantFrom('From', 'from', 'Subject', 'SUBJECT', 'Message-ID', 'To', 'X-Custom', ' Subject', 'Subject '),
  fc.constantFrom('\u00a0From', '', 'Received', 'Content-Type', 'Message-Id\t'),
  fc.string({ unit: 'binary-ascii', maxLength: 10 }),
);

/** One header line, sometimes followed by folded continuation lines, sometimes without a colon. */
const field = fc
  .tuple(
    name,
    fc.array(piece, { maxLength: 5 }),
    fc.array(fc.tuple(fc.constantFrom(' ', '\t', '   '), piece), { maxLength: 2 }),
    fc.nat(20),
  )
  .map(([n, value, folds, noColon]) => ({ first: noColon === 0 ? value.join('') : `${n}:${value.join(' ')}`, folds }));

const headerSection = fc
  .tuple(
    fc.array(fc.tuple(field, lineEnd), { maxLength: 8 }),
    fc.constantFrom('', '\r\n', '\n', '\r', '\r\r\n'),
    fc.oneof(
      fc.constant(''),
      fc.constant('Subject: body text\r\n'),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
    ),
    fc.boolean(),
  )
  .map(([fields, blank, body, latin1]) => {
    const text =
      fields.map(([f, end]) => f.first + end + f.folds.map(([wsp, p]) => `${wsp}${p}${end}`).join('')).join('') +
      blank +
      body;
    // some sections are written as Latin-1 bytes (invalid UTF-8 for a reader of UTF-8)
    return latin1 ? Buffer.from(text, 'latin1') : Buffer.from(text);
  });

describe('fuzz: the header reader agrees with postal-mime', () => {
  it('never throws, reads what postal-mime reads, refuses what it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(headerSection, async (raw) => {
        const read = readSubmittedHeaders(raw);
        const reference = await postalMime(raw);
        assert.equal(read.ok, reference.ok, `accepted by one only: ${read.ok ? '' : read.error}`);
        if (read.ok && reference.ok) assert.deepEqual(read.value, reference.value);
      }),
      fuzzRuns(1500),
    );
  });
});
