import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { MAX_HEADER_BYTES, readSubmittedHeaders } from '../../write-side/send/submitted-headers.js';
import { prng } from '../helpers/random-mail.js';

/** What the accept path used to take from a full `PostalMime.parse`: the reference. */
async function reference(raw: Buffer) {
  const email = await PostalMime.parse(raw);
  return {
    headers: email.headers.map((h) => ({ key: h.key, value: h.value })),
    subject: email.subject ?? '',
    rfcMessageId: email.messageId?.replace(/^.*</, '').replace(/>.*$/, '').trim() || undefined,
  };
}

async function assertSameAsPostalMime(raw: Buffer, label: string) {
  const read = readSubmittedHeaders(raw);
  assert.ok(read.ok, `${label}: ${read.ok ? '' : read.error}`);
  assert.deepEqual(
    read.value,
    await reference(raw),
    `${label}: ${JSON.stringify(raw.toString('latin1').slice(0, 300))}`,
  );
}

const BODY = 'Hello,\r\n\r\nA body line: Subject: not a header\r\nFrom: nor this\r\n';

describe('reading the header section of a submitted message', () => {
  it('reads the fields the accept path needs', () => {
    const raw = Buffer.from(
      `From: "Ann Smith" <ann@example.org>\r\nSubject: =?UTF-8?B?SGVsbG8g4pyT?=\r\n  folded\r\nMessage-ID: <abc.123@example.org>\r\n\r\n${BODY}`,
    );
    const read = readSubmittedHeaders(raw);
    assert.ok(read.ok);
    assert.equal(read.value.subject, 'Hello ✓  folded');
    assert.equal(read.value.rfcMessageId, 'abc.123@example.org');
    assert.deepEqual(read.value.headers[0], { key: 'from', value: '"Ann Smith" <ann@example.org>' });
    assert.equal(read.value.headers.length, 3, 'the body is not read');
  });

  it('agrees with postal-mime on the shapes clients send', async () => {
    const cases: Record<string, string | Buffer> = {
      typical: `From: Bench <bench@bench.test>\r\nTo: a@example.org\r\nSubject: Test 1\r\nMessage-ID: <1.2@bench.test>\r\n\r\n${BODY}`,
      'LF line ends': `From: a@example.org\nSubject: LF only\nMessage-ID: <x@y>\n\nbody\n`,
      'CR CR LF line ends and a blank line of CRs': `From: a@example.org\r\r\nSubject: two CRs\r\r\n\r\r\nbody`,
      'bare CR inside a value': `From: a@example.org\r\nSubject: one\rtwo\r\n\r\nbody`,
      'folded with tabs and spaces': `From: a@example.org\r\nSubject: first\r\n\tsecond\r\n   third\r\nX-Long: a\r\n b\r\n\r\nbody`,
      'a continuation line of blanks': `From: a@example.org\r\nSubject: blank fold\r\n   \r\n\r\nbody`,
      'Q and B encoded words': `From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\nSubject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?4pyT?= plain\r\n\r\nbody`,
      'raw UTF-8 (RFC 6532)': `From: Jürgen <j@example.org>\r\nSubject: Grüße aus Köln ✉\r\n\r\nbody`,
      'no body': `From: a@example.org\r\nSubject: only headers\r\n`,
      'no line end at all': `From: a@example.org\r\nSubject: cut`,
      'no Subject, no Message-ID': `From: a@example.org\r\n\r\nbody`,
      'empty Subject': `From: a@example.org\r\nSubject:\r\nMessage-ID:   \r\n\r\nbody`,
      'two Subjects and two Message-IDs (the first counts)': `Subject: first\r\nSubject: second\r\nMessage-ID: <one@x>\r\nMessage-ID: <two@x>\r\n\r\nbody`,
      'Message-ID without brackets, with a comment': `Message-ID: bare@example.org\r\nFrom: a@b.example\r\n\r\n`,
      'Message-ID with text around it': `Message-ID: (comment) <inner@example.org> trailing\r\n\r\n`,
      'a line without a colon': `From: a@example.org\r\nnot a header line\r\nSubject: after\r\n\r\nbody`,
      'blanks around the name and the value': ` From :   a@example.org   \r\nSubject\t:\tspaced\t\r\n\r\n`,
      'a name led by NBSP stays another name': `\u00a0From: evil@attacker.example\r\nFrom: a@example.org\r\n\r\n`,
      'two From headers': `From: a@example.org\r\nFrom: b@example.org\r\n\r\n`,
      'a leading fold before any header': `  folded first\r\nFrom: a@example.org\r\n\r\n`,
      'upper-case names': `FROM: a@example.org\r\nSUBJECT: Loud\r\nMESSAGE-ID: <LOUD@X>\r\n\r\n`,
      'a BOM at the start': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Subject: bom\r\n\r\n')]),
      'invalid UTF-8 bytes': Buffer.concat([
        Buffer.from('Subject: bad '),
        Buffer.from([0xc3, 0x28, 0xe2, 0x82, 0xff]),
        Buffer.from('\r\nFrom: a@b.example\r\n\r\n'),
      ]),
      'a truncated UTF-8 sequence at a line end': Buffer.concat([
        Buffer.from('Subject: cut '),
        Buffer.from([0xe2, 0x82]),
        Buffer.from('\r\nFrom: a@b.example\r\n\r\n'),
      ]),
      'an empty message': '',
      'only a blank line': '\r\n',
      'the body holds a multipart': `From: a@example.org\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nSubject: inner\r\n\r\ninner\r\n--b--\r\n`,
    };
    for (const [label, raw] of Object.entries(cases))
      await assertSameAsPostalMime(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), label);
  });

  it('agrees with postal-mime on 3,000 generated header sections', async () => {
    const rand = prng(20261122);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const names = [
      'From',
      'from',
      'Subject',
      'SUBJECT',
      'Message-ID',
      'Message-Id',
      'To',
      'X-Custom',
      ' Subject',
      'Subject ',
      'From\t',
      'Received',
      'Content-Type',
      '\u00a0From',
      'Reply-To',
    ];
    const pieces = [
      'plain',
      'Ann <ann@example.org>',
      '=?UTF-8?B?4pyTIGRvbmU=?=',
      '=?UTF-8?Q?caf=C3=A9?=',
      '=?ISO-8859-1?Q?a=E9?=',
      '<id.1@example.org>',
      'Jürgen',
      '✉',
      ' ',
      '\t',
      '  ',
      ':',
      '(comment)',
      '"quoted, name"',
      '\r',
      '=?bad?X?x?=',
      '<',
      '>',
      '@',
    ];
    const ends = ['\r\n', '\n', '\r\r\n'];
    for (let i = 0; i < 3000; i++) {
      const end = rand() < 0.8 ? '\r\n' : pick(ends);
      const lines: string[] = [];
      const count = Math.floor(rand() * 8);
      for (let h = 0; h < count; h++) {
        const value = Array.from({ length: Math.floor(rand() * 5) }, () => pick(pieces)).join(rand() < 0.5 ? ' ' : '');
        lines.push(rand() < 0.05 ? value || 'no colon' : `${pick(names)}:${rand() < 0.8 ? ' ' : ''}${value}`);
        if (rand() < 0.2) lines.push(`${pick([' ', '\t', '   '])}${pick(pieces)}`);
      }
      const body = rand() < 0.9 ? `${end}${end}Subject: body text${end}` : '';
      const raw = Buffer.concat([
        Buffer.from(lines.join(end)),
        Buffer.from(body),
        rand() < 0.05 ? Buffer.from([0xff, 0xfe, 0x0a]) : Buffer.alloc(0),
      ]);
      await assertSameAsPostalMime(raw, `case ${i}`);
    }
  });

  it('draws the size limit where postal-mime does: the header lines without their line ends', async () => {
    const section = (contentBytes: number) => `Subject: ${'x'.repeat(contentBytes - 'Subject: '.length)}\r\n\r\nbody`;
    const atLimit = Buffer.from(section(MAX_HEADER_BYTES));
    assert.ok(readSubmittedHeaders(atLimit).ok);
    await PostalMime.parse(atLimit);
    const over = Buffer.from(section(MAX_HEADER_BYTES + 1));
    const read = readSubmittedHeaders(over);
    assert.ok(!read.ok);
    assert.match(read.error, /header section is larger than 2097152 bytes/);
    await assert.rejects(PostalMime.parse(over), /Maximum header size/);
    // 1.9 MB of header lines, 2.1 MB with their CRLFs: accepted by both
    const padded = Buffer.from(`From: a@example.org\r\n${'X-Pad: aaaaaaaaaaaa\r\n'.repeat(100_000)}\r\nbody`);
    assert.ok(padded.length > MAX_HEADER_BYTES);
    await assertSameAsPostalMime(padded, 'line ends past the limit, content within it');
  });
});
