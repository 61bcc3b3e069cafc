import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalMessageBytes, MAX_LINE_BYTES } from '../../domain/index.js';

const canonical = (s: string | Buffer, max?: number) =>
  canonicalMessageBytes(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'), { maxLineBytes: max });
const text = (s: string | Buffer, max?: number) => {
  const r = canonical(s, max);
  assert.ok(r.ok, JSON.stringify(r));
  return r.value.toString('latin1');
};

describe('canonical message bytes', () => {
  it('returns a message that is canonical already as it is, without a copy', () => {
    const raw = Buffer.from('From: a@b.test\r\n\r\nbody\r\n');
    const r = canonicalMessageBytes(raw, { maxLineBytes: MAX_LINE_BYTES });
    assert.ok(r.ok);
    assert.equal(r.value, raw);
  });

  it('writes bare CR, bare LF and CRLF all as CRLF, and ends the last line', () => {
    assert.equal(text('a\rb\nc\r\nd'), 'a\r\nb\r\nc\r\nd\r\n');
    assert.equal(text('\n\r\r\n'), '\r\n\r\n\r\n');
    assert.equal(text('x\r'), 'x\r\n');
    assert.equal(text(''), '', 'an empty message stays empty');
  });

  it('is idempotent and leaves no CR or LF alone, whatever the mix of line ends', () => {
    const alphabet = ['\r', '\n', '\r\n', 'a', ' ', ':', '\n\r'];
    let seed = 7;
    for (let n = 0; n < 500; n++) {
      let s = '';
      for (let i = 0; i < 20; i++) s += alphabet[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % alphabet.length];
      const once = text(s);
      assert.equal(text(once), once, JSON.stringify(s));
      assert.doesNotMatch(once, /\r(?!\n)|(?<!\r)\n/, JSON.stringify(s));
      assert.equal(once.replace(/\r\n/g, ''), s.replace(/\r\n|\r|\n/g, ''), 'only line ends change');
    }
  });

  it('refuses a NUL byte, naming its line', () => {
    const r = canonical('a\r\nb\nc\0');
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'NUL_BYTE');
    assert.equal(r.error.line, 3);
  });

  it('refuses a line over the limit, naming the header it is in (folded lines count for their field)', () => {
    const ok = canonical(`A: ${'x'.repeat(995)}\r\n\r\n`, 998);
    assert.ok(ok.ok, 'exactly 998 bytes is allowed');
    const header = canonical(`From: a@b.test\r\nX-Big: a\r\n ${'y'.repeat(998)}\r\n\r\nbody\r\n`, 998);
    assert.ok(!header.ok);
    assert.deepEqual(
      { code: header.error.code, line: header.error.line, header: (header.error as { header?: string }).header },
      { code: 'LINE_TOO_LONG', line: 3, header: 'X-Big' },
    );
    const body = canonical(`From: a@b.test\r\n\r\n${'z'.repeat(999)}`, 998);
    assert.ok(!body.ok);
    assert.match(body.error.message, /^line 3 is 999 bytes long; .*quoted-printable or base64$/);
    assert.ok(canonical(`${'z'.repeat(5000)}\r\n`).ok, 'no limit unless asked for');
  });

  // found by test/fuzz/message-bytes: the colon of the next line made the name "y\r\nFrom", and the CRLF in it
  // split the SMTP reply that quotes the name
  it('a long header line without a colon names no header, not one from the next line (fuzz counterexample)', () => {
    const r = canonical(Buffer.from([121, 13, 10, 70, 114, 111, 109, 58, 32, 120]), 0);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'LINE_TOO_LONG');
    assert.equal((r.error as { header?: string }).header, undefined);
    assert.doesNotMatch(r.error.message, /[\r\n]/);
    assert.equal(r.error.line, 1);
  });
});
