import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer';
import { mailComposer, type ComposeInput } from '../../write-side/send/compose.js';
import { mimeBytes } from '../../write-side/send/mime-bytes.js';
import { prng, randomInput } from '../helpers/random-mail.js';

describe('synchronous MIME writer', () => {
  it('writes byte for byte what nodemailer build() writes, over 600 generated messages', async () => {
    const rand = prng(20261121);
    for (let i = 0; i < 600; i++) {
      const input = randomInput(rand, i);
      const fast = mimeBytes(mailComposer(input, 'b0undary').compile());
      assert.ok(fast, `case ${i}: the tree has only strings and Buffers, so it is written synchronously`);
      // a tree of its own: writing a tree changes it (headers are added and ordered)
      const streamed = await mailComposer(input, 'b0undary').compile().build();
      assert.equal(
        fast.toString('latin1'),
        streamed.toString('latin1'),
        `case ${i}: ${JSON.stringify(input).slice(0, 300)}`,
      );
    }
  });

  it('matches for large bodies (quoted-printable past its 64 KB slices, base64 of a multiple of a line and not) and empty parts', async () => {
    const cases: Partial<ComposeInput>[] = [
      { text: `${'Grüße aus Köln, '.repeat(6000)}  \n` },
      { text: 'z'.repeat(200_000) },
      { html: `<div>${'日本語のテキスト'.repeat(20_000)}</div>` },
      {
        text: 'plain',
        attachments: [
          { filename: 'a.bin', contentType: 'application/octet-stream', content: Buffer.alloc(57 * 100, 7) },
        ],
      },
      {
        text: 'plain',
        attachments: [
          { filename: 'b.bin', contentType: 'application/octet-stream', content: Buffer.alloc(57 * 100 + 1, 9) },
        ],
      },
      { text: '' },
      { text: 'ends with a lone CR\r' },
      { text: 'ends with LF\n' },
      // the root is the attachment itself, with nothing in it
      {
        text: '',
        attachments: [{ filename: 'empty.bin', contentType: 'application/octet-stream', content: Buffer.alloc(0) }],
      },
      { text: '', attachments: [{ filename: 'empty.eml', contentType: 'message/rfc822', content: Buffer.alloc(0) }] },
      { text: 'x', attachments: [{ filename: 'empty.txt', contentType: 'text/plain', content: Buffer.alloc(0) }] },
    ];
    for (const [i, extra] of cases.entries()) {
      const input = { ...randomInput(prng(i), i), text: undefined, html: undefined, attachments: [], ...extra };
      const fast = mimeBytes(mailComposer(input, 'b0undary').compile());
      assert.ok(fast);
      assert.equal(
        fast.toString('latin1'),
        (await mailComposer(input, 'b0undary').compile().build()).toString('latin1'),
        `edge case ${i}`,
      );
    }
  });

  it('leaves content it cannot read synchronously (a stream) to the streaming builder', async () => {
    const root = new MailComposer({
      from: 'a@example.test',
      to: 'b@example.org',
      text: 'x',
      attachments: [{ filename: 's.txt', content: Readable.from(['streamed']) }],
    }).compile();
    assert.equal(mimeBytes(root), undefined);
    assert.match((await root.build()).toString(), /c3RyZWFtZWQ=/);
  });
});
