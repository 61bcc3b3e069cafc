import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Transform } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { fastDataTransform, stuffDotsCrlf, useFastDotStuffing } from '../../mta/smtp/dot-stuffing.js';

// nodemailer does not export its DataStream: loaded by its path, as its SMTP connection loads it
const require = createRequire(import.meta.url);
const DataStream = require(join(dirname(require.resolve('nodemailer')), 'smtp-connection', 'data-stream.js'))
  .default as new () => Transform & { inByteCount: number; outByteCount: number };

/** What a DataStream writes for these chunks, and its counters; `fast`: with fastDataTransform. */
async function written(chunks: Buffer[], fast: boolean) {
  const stream = new DataStream();
  if (fast) stream._transform = fastDataTransform(stream._transform) as Transform['_transform'];
  const out: Buffer[] = [];
  stream.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((r) => stream.on('end', r));
  for (const c of chunks) stream.write(c);
  stream.end();
  await ended;
  return { bytes: Buffer.concat(out).toString('latin1'), inBytes: stream.inByteCount, outBytes: stream.outByteCount };
}

const pieces = fc.constantFrom('a', 'b c', '.', '..', '\r\n', '\r', '\n', '\r\n.', '\r\n..\r\n', ' ', '\u00e9');
const crlfPieces = fc.constantFrom('a', 'b c', '.', '..', '\r\n', '\r\n.', '\r\n.\r\n', '\r\n..');
/** Bytes cut into 1–4 chunks at arbitrary places (a CRLF may be cut in two). */
const chunked = (piece: fc.Arbitrary<string>) =>
  fc.tuple(fc.array(piece, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 3 })).map(([parts, cuts]) => {
    const bytes = Buffer.from(parts.join(''), 'latin1');
    const at = [...new Set(cuts.map((c) => (bytes.length ? c % bytes.length : 0)))].sort((a, b) => a - b);
    return [0, ...at].map((start, i) => bytes.subarray(start, at[i] ?? bytes.length)).filter((c) => c.length > 0);
  });

describe('dot-stuffing the DATA of a message', () => {
  it("writes exactly what nodemailer's DataStream writes, counters included, for any bytes in any chunks", async () => {
    for (const piece of [pieces, crlfPieces])
      await fc.assert(
        fc.asyncProperty(chunked(piece), async (chunks) => {
          assert.deepEqual(await written(chunks, true), await written(chunks, false));
        }),
        { numRuns: 400 },
      );
  });

  it('stuffs the dots that start lines of CRLF text, and leaves bare line ends to the byte loop', () => {
    assert.equal(
      stuffDotsCrlf(Buffer.from('.a\r\nb.\r\n..c\r\n.\r\n'), false)?.toString(),
      '..a\r\nb.\r\n...c\r\n..\r\n',
    );
    const plain = Buffer.from('no dots here\r\n');
    assert.equal(stuffDotsCrlf(plain, false), plain, 'nothing to stuff: the chunk itself, not a copy');
    assert.equal(stuffDotsCrlf(Buffer.from('.a'), 0x61)?.toString(), '.a', 'not the start of a line');
    assert.equal(stuffDotsCrlf(Buffer.from('a\nb'), false), undefined);
    assert.equal(stuffDotsCrlf(Buffer.from('a\rb'), false), undefined);
    assert.equal(stuffDotsCrlf(Buffer.from('b'), 0x0d), undefined, 'a CR that ended the chunk before, then no LF');
    assert.equal(stuffDotsCrlf(Buffer.from('\n.b'), 0x0d)?.toString(), '\n..b');
  });

  it("takes hold of the nodemailer in use (the MTA's connections would otherwise keep the slow loop silently)", () => {
    assert.equal(useFastDotStuffing(new SMTPConnection({ host: '127.0.0.1', port: 25 })), true);
  });
});
