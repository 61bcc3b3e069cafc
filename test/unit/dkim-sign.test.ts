import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import { rsaSignStreaming, rsaSign, type SigningKey } from '../../mta/signing/dkim.js';

const pem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keyA: SigningKey = { selector: 'a2026', algorithm: 'rsa-2048', privateKeyPem: pem() };
const keyB: SigningKey = { selector: 'b2026', algorithm: 'rsa-2048', privateKeyPem: pem() };

const headers =
  'From: Sender <sender@example.test>\r\nTo: rcpt@example.org\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\tfolded  continuation\r\nDate: Sat, 21 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n';

/** Messages whose header parsing or body canonicalization has edges: line endings, whitespace, size. */
const MESSAGES: [string, Buffer][] = [
  ['a short CRLF message', Buffer.from(`${headers}\r\nHello world\r\n`)],
  [
    'trailing whitespace and empty lines at the end',
    Buffer.from(`${headers}\r\nline with spaces   \r\n\t tabs \t and  runs\r\n\r\n\r\n\r\n`),
  ],
  ['LF line endings', Buffer.from(`${headers.replace(/\r\n/g, '\n')}\nbody\nmore  body \n`)],
  ['no body', Buffer.from(`${headers}\r\n`)],
  ['no blank line after the headers', Buffer.from(headers)],
  [
    'a body of 200 KB (past every stream buffer size)',
    Buffer.from(`${headers}\r\n${'0123456789 abcdefghij  \r\n'.repeat(8000)}`),
  ],
  [
    '8-bit bytes',
    Buffer.concat([Buffer.from(`${headers}\r\n`), Buffer.from([0xc3, 0xbc, 0x20, 0x20, 0x0d, 0x0a, 0xff, 0x0d, 0x0a])]),
  ],
];

describe('DKIM (RSA) signing off the event loop', () => {
  it("writes byte for byte what nodemailer's streaming signer writes: one key and two, an IDN signing domain", async () => {
    for (const [name, message] of MESSAGES) {
      for (const [keys, domain] of [
        [[keyA], 'example.test'],
        [[keyA, keyB], 'Bücher.Example'],
      ] as const) {
        const fast = await rsaSign(message, domain, [...keys]);
        assert.ok(fast, `${name}: parsed and hashed synchronously`);
        assert.equal(
          fast.toString('latin1'),
          (await rsaSignStreaming(message, domain, [...keys])).toString('latin1'),
          `${name}, ${keys.length} key(s), ${domain}`,
        );
      }
    }
  });

  it("signs header lines put in front (the MTA's trace headers) as if they were part of the message", async () => {
    const prefixes = [
      'Received: by mta.example (Postlog) with ESMTPSA id 1\r\n\tfor <rcpt@example.org>; Sat, 21 Nov 2026 12:00:00 +0000\r\nX-Postlog-MsgID: 1-abcdefghijklmnop\r\n',
      // an empty line in the prefix, a bare line end: the parser splits the whole message itself
      'X-Early: 1\r\n\r\n',
      'X-Bare: 1\n',
      '',
    ].map((p) => Buffer.from(p));
    for (const [name, message] of MESSAGES) {
      for (const prefix of prefixes) {
        const fast = await rsaSign(message, 'example.test', [keyA], prefix);
        assert.ok(fast, `${name}: parsed and hashed synchronously`);
        const whole = Buffer.concat([prefix, message]);
        assert.equal(
          fast.toString('latin1'),
          (await rsaSignStreaming(whole, 'example.test', [keyA])).toString('latin1'),
          `${name}, prefix ${JSON.stringify(prefix.toString())}`,
        );
      }
    }
  });

  it('makes signatures an independent verifier (mailauth) accepts', async () => {
    const publicKey = (k: SigningKey) =>
      createPublicKey(k.privateKeyPem).export({ type: 'spki', format: 'der' }).toString('base64');
    const records = new Map(
      [keyA, keyB].map((k) => [`${k.selector}._domainkey.example.test`, `v=DKIM1; k=rsa; p=${publicKey(k)}`]),
    );
    const signed = (await rsaSign(MESSAGES[1]![1], 'example.test', [keyA, keyB]))!;
    const verdict = (await dkimVerify(signed, {
      resolver: async (name: string) => (records.has(name) ? [[records.get(name)!]] : []),
    } as never)) as unknown as { results: { status: { result: string } }[] };
    assert.deepEqual(
      verdict.results.map((r) => r.status.result),
      ['pass', 'pass'],
    );
    const tampered = Buffer.from(signed.toString('latin1').replace('line with spaces', 'line with space'), 'latin1');
    const bad = (await dkimVerify(tampered, {
      resolver: async (name: string) => (records.has(name) ? [[records.get(name)!]] : []),
    } as never)) as unknown as { results: { status: { result: string } }[] };
    // a changed body no longer matches the body hash (mailauth calls that "neutral")
    assert.deepEqual(
      bad.results.map((r) => r.status.result === 'pass'),
      [false, false],
    );
  });
});
