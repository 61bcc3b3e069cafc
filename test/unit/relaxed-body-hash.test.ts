import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import RelaxedBody from 'nodemailer/lib/dkim/relaxed-body';
import { relaxedBodyHash } from '../../mta/signing/relaxed-body-hash.js';

/** nodemailer's RelaxedBody streamed in 64 KB chunks, as its DKIM signer does. */
async function nodemailerHash(body: Buffer): Promise<string> {
  const relaxed = new RelaxedBody({ hashAlgo: 'sha256' });
  const hash = new Promise<string>((resolve) => relaxed.once('hash', resolve));
  relaxed.resume();
  for (let i = 0; i < body.length; i += 65536) relaxed.write(body.subarray(i, i + 65536));
  relaxed.end();
  return hash;
}

const piece = fc.constantFrom('a', 'b c', '.', '\r\n', '\r\n\r\n', ' ', '  ', '\t', '\r', '\n', ' \r\n', '=\r\n');
const canonicalPiece = fc.constantFrom('a', 'b c', '.', '\r\n', '\r\n\r\n', 'x y\r\n', '=\r\n');

describe('the relaxed body hash of DKIM', () => {
  it("is nodemailer's RelaxedBody hash for any body, canonical already or not", async () => {
    for (const p of [piece, canonicalPiece])
      await fc.assert(
        fc.asyncProperty(fc.array(p, { maxLength: 60 }), async (parts) => {
          const body = Buffer.from(parts.join(''), 'latin1');
          assert.equal(relaxedBodyHash(body), await nodemailerHash(body));
        }),
        { numRuns: 500 },
      );
  });

  it('holds for bodies past one stream chunk, and for the edges', async () => {
    const bodies = [
      '',
      '\r\n',
      '\r\n\r\n\r\n',
      'a',
      'a\r\n\r\n',
      ' \r\n',
      'line\r\n'.repeat(30_000),
      `${'QUJD'.repeat(19)}\r\n`.repeat(2000),
      `${'text with  two spaces\r\n'.repeat(5000)}\r\n\r\n`,
    ];
    for (const b of bodies) {
      const body = Buffer.from(b, 'latin1');
      assert.equal(relaxedBodyHash(body), await nodemailerHash(body), JSON.stringify(b.slice(0, 40)));
    }
  });
});
