/**
 * canonicalMessageBytes, the one place raw MIME becomes Postlog's bytes, against a model of its
 * documented rules (domain/values/message-bytes.ts) on random bytes heavy in CR, LF, NUL, dots
 * and long runs: the result ends every line with CRLF, holds no NUL, keeps every line's content,
 * is idempotent, and a refusal (NUL_BYTE, LINE_TOO_LONG) comes exactly when the rules say, naming
 * the right line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalMessageBytes } from '../../domain/index.js';
import { fuzzRuns } from '../helpers/fuzz.js';

const chunk = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('\r\n', '\r', '\n', '\n\r', '\r\r\n', 'a', ' ', ':', '.', 'From: x', '\u0000'),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString('latin1')) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 120 }).map((n) => 'y'.repeat(n)) },
);
const message = fc.array(chunk, { maxLength: 60 }).map((parts) => Buffer.from(parts.join(''), 'latin1'));

/** The rules, written plainly: every CRLF, bare CR and bare LF ends a line. */
function model(raw: Buffer) {
  const text = raw.toString('latin1');
  const lines = text.split(/\r\n|\r|\n/);
  const endsWithLineEnd = /[\r\n]$/.test(text);
  if (endsWithLineEnd) lines.pop();
  return { lines, bytes: text === '' ? '' : `${lines.join('\r\n')}\r\n` };
}

const onlyCrlf = (b: Buffer) => !/\r(?!\n)|(?<!\r)\n/.test(b.toString('latin1'));

describe('fuzz: canonical message bytes', () => {
  it('CRLF only, no NUL, the same lines, idempotent; NUL refused on the right line', () => {
    fc.assert(
      fc.property(message, (raw) => {
        const result = canonicalMessageBytes(raw);
        const expected = model(raw);
        const nul = raw.indexOf(0);
        if (nul !== -1) {
          assert.ok(!result.ok, 'a NUL is refused');
          assert.equal(result.error.code, 'NUL_BYTE');
          const line = model(raw.subarray(0, nul + 1)).lines.length;
          assert.equal(result.error.line, line, 'the NUL is on the line named');
          return;
        }
        assert.ok(result.ok, JSON.stringify(result));
        assert.equal(result.value.toString('latin1'), expected.bytes);
        assert.ok(onlyCrlf(result.value));
        const again = canonicalMessageBytes(result.value);
        assert.ok(again.ok);
        assert.equal(again.value, result.value, 'canonical bytes come back as they are, without a copy');
      }),
      fuzzRuns(3000),
    );
  });

  it('refuses a line longer than the limit exactly when there is one, naming it', () => {
    fc.assert(
      fc.property(message, fc.integer({ min: 0, max: 130 }), (raw, max) => {
        fc.pre(raw.indexOf(0) === -1);
        const result = canonicalMessageBytes(raw, { maxLineBytes: max });
        const { lines } = model(raw);
        const long = lines.findIndex((l) => l.length > max);
        if (long === -1) {
          assert.ok(result.ok, JSON.stringify(result));
          return;
        }
        assert.ok(!result.ok, `line ${long + 1} is ${lines[long]!.length} bytes`);
        assert.equal(result.error.code, 'LINE_TOO_LONG');
        if (result.error.code !== 'LINE_TOO_LONG') return;
        assert.equal(result.error.line, long + 1);
        assert.equal(result.error.bytes, lines[long]!.length);
        const inHeader = !lines.slice(0, long + 1).includes('');
        if (!inHeader) assert.equal(result.error.header, undefined, 'a body line names no header');
        // the name goes into an SMTP reply and an HTTP error: one line, a field name at most
        if (result.error.header !== undefined) assert.match(result.error.header, /^[^\r\n:]{1,80}$/);
        assert.doesNotMatch(result.error.message, /[\r\n]/);
      }),
      fuzzRuns(3000),
    );
  });
});
