import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { createJsonPoster } from '../../infra/http/outbound.js';
import {
  jwkThumbprint,
  postlogSignatureHeader,
  rsaSha1Signature,
  rsaSignature,
  rsaSignatureAsync,
  verifyPostlogSignature,
  verifyRsaSignature,
} from '../../infra/webhooks/index.js';

const body = JSON.stringify({
  event: 'MessageSent',
  timestamp: 1_772_359_500.5,
  payload: { message: { id: 1 } },
  uuid: 'u',
});

describe('webhook signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey & { n: string; e: string };

  it('X-Postal-Signature-256 is an RSA-SHA256 signature of the exact body, checkable with the JWK', () => {
    const signature = rsaSignature(body, privateKey);
    assert.equal(Buffer.from(signature, 'base64').length, 256);
    assert.equal(verifyRsaSignature(body, signature, jwk), true);
    assert.equal(verifyRsaSignature(body.replace('1}', '2}'), signature, jwk), false);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    assert.equal(verifyRsaSignature(body, signature, other), false);
  });

  it("X-Postal-Signature (Postal's legacy header) is an RSA-SHA1 signature of the body with the same key", async () => {
    const signature = rsaSha1Signature(body, privateKey);
    assert.equal(await rsaSignatureAsync(body, privateKey, 'sha1'), signature, 'PKCS#1 v1.5 is deterministic');
    assert.equal(verifyRsaSignature(body, signature, jwk, 'sha1'), true);
    assert.equal(verifyRsaSignature(body, signature, jwk), false, 'not a SHA-256 signature');
    assert.notEqual(signature, rsaSignature(body, privateKey));
    assert.equal(verifyRsaSignature(`${body} `, signature, jwk, 'sha1'), false);
  });

  it('the key id is the RFC 7638 thumbprint', () => {
    // the example key of RFC 7638, section 3.1
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    assert.equal(jwkThumbprint({ n, e: 'AQAB' }), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('X-Postlog-Signature binds a timestamp to the body (HMAC-SHA256 of "<t>.<body>"), and old timestamps are refused', () => {
    const t = Math.floor(Date.now() / 1000);
    const header = postlogSignatureHeader(['whsec_one'], t, body);
    assert.equal(header, `t=${t},v1=${createHmac('sha256', 'whsec_one').update(`${t}.${body}`).digest('hex')}`);
    assert.equal(verifyPostlogSignature(header, body, 'whsec_one'), true);
    assert.equal(verifyPostlogSignature(header, body, 'whsec_two'), false);
    assert.equal(verifyPostlogSignature(header, `${body} `, 'whsec_one'), false);
    assert.equal(
      verifyPostlogSignature(header, body, 'whsec_one', { now: t + 301 }),
      false,
      'a replay after five minutes',
    );
    assert.equal(
      verifyPostlogSignature(header.replace(`t=${t}`, `t=${t + 1}`), body, 'whsec_one'),
      false,
      'the timestamp is signed',
    );
    // during a rotation both secrets sign
    const both = postlogSignatureHeader(['whsec_new', 'whsec_old'], t, body);
    assert.equal(verifyPostlogSignature(both, body, 'whsec_new'), true);
    assert.equal(verifyPostlogSignature(both, body, 'whsec_old'), true);
  });
});

describe('the webhook HTTP client', () => {
  it('refuses private addresses at connect time, including names that resolve to one', async () => {
    const poster = createJsonPoster({ timeoutMs: 2000, allowPrivate: false });
    try {
      await assert.rejects(poster.post('http://127.0.0.1:9/x', '{}', {}), /private address/);
      await assert.rejects(poster.post('http://[::1]:9/x', '{}', {}), /private address/);
      await assert.rejects(poster.post('http://localhost:9/x', '{}', {}), /private address/);
    } finally {
      poster.close();
    }
  });
});
