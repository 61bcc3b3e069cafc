import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Encoder as QpEncoder } from 'nodemailer/lib/qp';
import { transformSync } from '../../infra/streams/index.js';
import { isPlainText } from 'nodemailer/lib/mime-funcs';
import { encodeQuotedPrintable, encodeQuotedPrintableIfPlain } from '../../write-side/send/quoted-printable.js';

/** What nodemailer's QP encoder writes for the input in one chunk (the bytes simple-mime is held to). */
const nodemailer = (input: Buffer, binary: boolean) => transformSync(new QpEncoder({ binary }), input)!;

/** Pieces that exercise every rule: blanks before breaks, lone CR/LF, "=", break characters, UTF-8 of 2–4 bytes. */
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'Lorem ipsum', 'dolor', 'x'.repeat(80), 'ABCDEF', '0123') },
  { weight: 3, arbitrary: fc.constantFrom(' ', '\t', '  ', ' \t') },
  { weight: 3, arbitrary: fc.constantFrom('\r\n', '\n', '\r', '\n\r', '\r\r\n') },
  { weight: 2, arbitrary: fc.constantFrom('=', '=3D', '=A', '.', ',', '!', '?', '.\r\n.') },
  { weight: 3, arbitrary: fc.constantFrom('é', 'ü', '€', '😀', 'Straße', '日本語のテキスト') },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('latin1')) },
);
const input = fc
  .array(piece, { maxLength: 120 })
  .map((parts) => Buffer.concat(parts.map((p) => Buffer.from(p, /[^\x00-\xff]/.test(p) ? 'utf8' : 'latin1'))));

describe('quoted-printable over bytes', () => {
  it("of a text that is plain (nodemailer's isPlainText), and nothing for one that is not", () => {
    const control = fc.constantFrom('\x00', '\x07', '\x08', '\x0b', '\x0c', '\x0e', '\x1b', '\x1f');
    const ascii = fc.oneof(piece, { weight: 1, arbitrary: control }).filter((p) => !/[^\x00-\x7f]/.test(p));
    fc.assert(
      fc.property(fc.array(ascii, { maxLength: 80 }), (parts) => {
        const text = parts.join('');
        const encoded = encodeQuotedPrintableIfPlain(Buffer.from(text, 'latin1'));
        if (isPlainText(text))
          assert.equal(encoded?.toString('latin1'), nodemailer(Buffer.from(text), false).toString('latin1'));
        else assert.equal(encoded, undefined, JSON.stringify(text));
      }),
      { numRuns: 3000 },
    );
  });

  it("writes exactly nodemailer's bytes, text and binary", () => {
    fc.assert(
      fc.property(input, fc.boolean(), (bytes, binary) => {
        assert.equal(
          encodeQuotedPrintable(bytes, binary).toString('latin1'),
          nodemailer(bytes, binary).toString('latin1'),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it("and past nodemailer's 64 KB slices: long lines, trailing blanks, a UTF-8 sequence across the slice edge", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = ['word', ' ', '\r\n', 'é', '€', '=', '.', '\t', 'x'.repeat(90), '\n', '\r'];
    for (const size of [65_535, 65_536, 65_537, 100_000, 140_000]) {
      for (const binary of [false, true]) {
        let text = '';
        while (Buffer.byteLength(text) < size) text += alphabet[Math.floor(random() * alphabet.length)];
        for (const bytes of [Buffer.from(text).subarray(0, size), Buffer.from(`${text}   \t `)]) {
          const ours = encodeQuotedPrintable(bytes, binary).toString('latin1');
          assert.equal(ours, nodemailer(bytes, binary).toString('latin1'), `size ${bytes.length}, binary ${binary}`);
          assert.ok(ours.split(/\r\n|\n|\r/).every((line) => line.length <= 76));
        }
      }
    }
  });

  it("of ASCII text with CRLF line ends (the string path): nodemailer's bytes, with and without blanks to escape", () => {
    // what most mail is: words, "=" (HTML attributes), break characters, long runs, CRLF lines;
    // sometimes a blank before a line end or at the end, a bare line end or a control (the byte path)
    const textPiece = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('Lorem ipsum', 'dolor', 'x'.repeat(80), '<a href="x">', '=', '=3D') },
      { weight: 4, arbitrary: fc.constantFrom(' ', '.', ',', '!', '?', '\r\n', '\r\n\r\n', 'a'.repeat(74)) },
      { weight: 1, arbitrary: fc.constantFrom(' \r\n', '\t', '\n', '\r', '\x07', '\x7f') },
    );
    fc.assert(
      fc.property(fc.array(textPiece, { maxLength: 200 }), fc.constantFrom('', ' ', '\r\n'), (parts, end) => {
        const bytes = Buffer.from(parts.join('') + end, 'latin1');
        assert.equal(
          encodeQuotedPrintable(bytes, false).toString('latin1'),
          nodemailer(bytes, false).toString('latin1'),
        );
        const plain = encodeQuotedPrintableIfPlain(bytes);
        if (plain) assert.equal(plain.toString('latin1'), nodemailer(bytes, false).toString('latin1'));
      }),
      { numRuns: 3000 },
    );
  });

  it('of an "=" at every place a soft break can cut it (the string path)', () => {
    for (let k = 60; k <= 160; k++) {
      for (const tail of ['y'.repeat(100), '==\r\n', ' y'.repeat(40), '']) {
        const bytes = Buffer.from(`${'x'.repeat(k)}=${tail}`, 'latin1');
        assert.equal(
          encodeQuotedPrintable(bytes, false).toString('latin1'),
          nodemailer(bytes, false).toString('latin1'),
        );
      }
    }
  });

  it('of long ASCII text across the 64 KB slices (the string path, and slices that leave it)', () => {
    let seed = 11;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const texts = [
      ['Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor.\r\n'],
      ['<p style="color: red">', 'Lorem', ' ', 'ipsum', '=', '.', '\r\n', 'y'.repeat(100), '</p>'],
      ['word', ' ', '=', '\r\n', 'z'.repeat(75), ',', 'é'],
    ];
    for (const alphabet of texts) {
      for (const size of [65_534, 65_535, 65_536, 65_537, 65_538, 100_000, 140_000]) {
        let text = '';
        while (Buffer.byteLength(text) < size) text += alphabet[Math.floor(random() * alphabet.length)];
        for (const bytes of [Buffer.from(text).subarray(0, size), Buffer.from(`${text}  `)]) {
          const ours = encodeQuotedPrintable(bytes, false).toString('latin1');
          assert.equal(ours, nodemailer(bytes, false).toString('latin1'), `size ${bytes.length}`);
        }
      }
    }
  });

  it('keeps short input as it is and encodes nothing for nothing', () => {
    assert.equal(encodeQuotedPrintable(Buffer.from('Hello, world'), false).toString(), 'Hello, world');
    assert.equal(encodeQuotedPrintable(Buffer.alloc(0), false).length, 0);
    assert.equal(encodeQuotedPrintable(Buffer.from('a = b '), false).toString(), 'a =3D b=20');
  });
});
