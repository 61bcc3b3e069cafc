import assert from 'node:assert/strict';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { parseSigV4Authorization, verifySigV4, type SignedRequest } from '../../infra/http/aws-sigv4.js';

/** The hash (and HMAC, with a secret) the AWS SDK's signer is given, on node:crypto. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | Uint8Array) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data: string | Uint8Array) {
    this.hash.update(data);
  }
  digest() {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const signedAt = new Date('2026-12-06T10:00:00Z');

/** A request signed by the AWS SDK's own SigV4 signer, as the SESv2 client signs SendEmail. */
async function signedBySdk(body: string, query: Record<string, string> = {}): Promise<SignedRequest> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: 'PLKIABCDEFGHIJKLMNOP', secretAccessKey: secret },
    region: 'eu-west-1',
    service: 'ses',
    sha256: Sha256 as never,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 8025,
      path: '/v2/email/outbound-emails',
      query,
      headers: { host: '127.0.0.1:8025', 'content-type': 'application/json', 'x-custom': '  a   b ' },
      body,
    },
    { signingDate: signedAt },
  );
  const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const search = new URLSearchParams(query).toString().replace(/\+/g, '%20');
  return { method: 'POST', path: '/v2/email/outbound-emails', query: search, headers, body: Buffer.from(body) };
}

const check = (req: SignedRequest, key = secret, now = signedAt) => {
  const auth = parseSigV4Authorization(req.headers.authorization as string);
  assert.ok(auth.ok, JSON.stringify(auth));
  const verdict = verifySigV4(req, auth.value, key, 'ses', now);
  return verdict.ok ? 'ok' : verdict.error.code;
};

describe('AWS Signature V4: what the AWS SDK signs, Postlog verifies', () => {
  it('accepts the SDK signature over the exact bytes, headers and query', async () => {
    assert.equal(check(await signedBySdk('{"a":1}')), 'ok');
    assert.equal(check(await signedBySdk('{"b":"ü ✓"}', { z: 'last one', a: 'x/y' })), 'ok');
  });

  it('refuses a wrong secret, a changed body or signed header, another service, and a stale or future time', async () => {
    const req = await signedBySdk('{"a":1}');
    assert.equal(check(req, `${secret}x`), 'SignatureDoesNotMatch');
    assert.equal(check({ ...req, body: Buffer.from('{"a":2}') }), 'SignatureDoesNotMatch');
    assert.equal(check({ ...req, headers: { ...req.headers, host: 'evil.test' } }), 'SignatureDoesNotMatch');
    assert.equal(check({ ...req, path: '/v2/email/other' }), 'SignatureDoesNotMatch');
    assert.equal(check(req, secret, new Date(signedAt.getTime() + 16 * 60_000)), 'RequestExpired');
    assert.equal(check(req, secret, new Date(signedAt.getTime() - 16 * 60_000)), 'RequestExpired');
    assert.equal(check(req, secret, new Date(signedAt.getTime() + 14 * 60_000)), 'ok');
    const other = (req.headers.authorization as string).replace('/ses/', '/s3/');
    assert.equal(check({ ...req, headers: { ...req.headers, authorization: other } }), 'SignatureDoesNotMatch');
  });

  it('reads only a complete AWS4-HMAC-SHA256 header', () => {
    for (const bad of [
      undefined,
      'Bearer abc',
      'AWS4-HMAC-SHA256 Credential=AK/20261206/eu-west-1/ses/aws4_request, Signature=00',
      `AWS4-HMAC-SHA256 Credential=AK/2026/eu-west-1/ses/aws4_request, SignedHeaders=host, Signature=${'a'.repeat(64)}`,
    ])
      assert.equal(parseSigV4Authorization(bad).ok, false, String(bad));
  });
});
