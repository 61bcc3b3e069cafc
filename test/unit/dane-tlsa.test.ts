import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { tlsaMatches, usableTlsa, type TlsaRecord } from '../../domain/index.js';
import { decodeResponse, encodeQuery } from '../../infra/dns/index.js';
import { verifyDane } from '../../mta/routing/dane-verify.js';
import { createTestCa } from '../helpers/test-ca.js';

const digest = (alg: string, b: Buffer) => createHash(alg).update(b).digest();
const spki = (c: X509Certificate) => c.publicKey.export({ type: 'spki', format: 'der' });
const record = (usage: number, selector: number, matchingType: number, data: Buffer): TlsaRecord => ({
  usage,
  selector,
  matchingType,
  data,
});

describe('DANE: TLSA records against certificate chains (RFC 7672 §3)', () => {
  let leaf: X509Certificate;
  let ca: X509Certificate;
  let otherCa: X509Certificate;
  let now: Date;

  before(async () => {
    const testCa = await createTestCa();
    leaf = new X509Certificate((await testCa.issue(['mx.example.test'])).cert);
    ca = new X509Certificate(testCa.cert);
    otherCa = new X509Certificate((await createTestCa()).cert);
    // after the certificates are made: they are valid from the second they were issued in, not before
    now = new Date();
  });

  it('keeps usages 2 and 3 with known selectors and matching types only', () => {
    const d = Buffer.from([1]);
    const kept = usableTlsa([record(0, 0, 1, d), record(1, 1, 1, d), record(2, 0, 1, d), record(3, 1, 2, d)]);
    assert.deepEqual(
      kept.map((r) => r.usage),
      [2, 3],
    );
    assert.deepEqual(usableTlsa([record(3, 2, 1, d), record(3, 1, 3, d), record(3, 1, 1, Buffer.alloc(0))]), []);
  });

  it('matches by selector and matching type', () => {
    const cert = { der: leaf.raw, spki: spki(leaf) };
    assert.ok(tlsaMatches(record(3, 1, 1, digest('sha256', spki(leaf))), cert));
    assert.ok(tlsaMatches(record(3, 0, 2, digest('sha512', leaf.raw)), cert));
    assert.ok(tlsaMatches(record(3, 1, 0, spki(leaf)), cert));
    assert.ok(!tlsaMatches(record(3, 0, 1, digest('sha256', spki(leaf))), cert), 'selector 0 is the whole cert');
  });

  it('DANE-EE: the host certificate matches, whatever its name; another one does not', () => {
    const ee = record(3, 1, 1, digest('sha256', spki(leaf)));
    assert.equal(verifyDane('any.name.test', [leaf], [ee], now), undefined);
    const failure = verifyDane('mx.example.test', [ca], [ee], now);
    assert.equal(failure?.type, 'tlsa-invalid');
    assert.match(failure?.detail ?? '', /no TLSA record matches the certificate \(3 1 1 /);
    assert.equal(verifyDane('mx.example.test', [], [ee], now)?.type, 'tlsa-invalid');
  });

  it('DANE-TA: the chain must lead to the anchor, and the certificate must name the MX host', () => {
    const ta = record(2, 0, 1, digest('sha256', ca.raw));
    assert.equal(verifyDane('mx.example.test', [leaf, ca], [ta], now), undefined);
    assert.equal(verifyDane('other.example.test', [leaf, ca], [ta], now)?.type, 'certificate-host-mismatch');
    assert.equal(verifyDane('mx.example.test', [leaf], [ta], now)?.type, 'tlsa-invalid', 'anchor not sent');
    const foreign = record(2, 0, 1, digest('sha256', otherCa.raw));
    assert.equal(
      verifyDane('mx.example.test', [leaf, otherCa], [foreign], now)?.type,
      'tlsa-invalid',
      'not its issuer',
    );
    const later = new Date(Date.now() + 100 * 365 * 86_400_000);
    assert.equal(verifyDane('mx.example.test', [leaf, ca], [ta], later)?.type, 'tlsa-invalid', 'expired leaf');
  });

  it('no usable record: TLS without authentication, no failure (RFC 7672 §2.2)', () => {
    assert.equal(verifyDane('mx.example.test', [leaf], [], now), undefined);
  });
});

describe('DNS wire format for validating resolvers', () => {
  it('asks with RD, AD and EDNS0 DO', () => {
    const q = encodeQuery(0x1234, '_25._tcp.mx.example.test', 'TLSA');
    assert.equal(q.readUInt16BE(0), 0x1234);
    assert.equal(q.readUInt16BE(2), 0x0120);
    assert.equal(q.readUInt16BE(10), 1, 'one OPT record');
    assert.equal(q.readUInt16BE(q.length - 4), 0x8000, 'DO bit');
    assert.equal(q.readUInt16BE(q.length - 15), 52, 'QTYPE TLSA');
  });

  it('reads the AD bit, the rcode and compressed MX and TLSA records', () => {
    const q = encodeQuery(7, 'example.test', 'MX');
    const question = q.subarray(12, q.length - 11);
    const header = Buffer.from([0, 7, 0x81, 0xa0, 0, 1, 0, 2, 0, 0, 0, 0]); // QR RD RA AD, NOERROR
    const mx = Buffer.concat([
      Buffer.from([0xc0, 12, 0, 15, 0, 1, 0, 0, 1, 44, 0, 7, 0, 10, 2]),
      Buffer.from('mx'),
      Buffer.from([0xc0, 12]),
    ]);
    const tlsa = Buffer.concat([Buffer.from([0xc0, 12, 0, 52, 0, 1, 0, 0, 1, 44, 0, 5, 3, 1, 1, 0xab, 0xcd])]);
    const answer = decodeResponse(Buffer.concat([header, question, mx, tlsa]));
    assert.equal(answer.authenticated, true);
    assert.equal(answer.rcode, 0);
    assert.deepEqual(answer.answers[0], {
      type: 'MX',
      name: 'example.test',
      preference: 10,
      exchange: 'mx.example.test',
    });
    const t = answer.answers[1];
    assert.ok(t?.type === 'TLSA');
    assert.deepEqual([t.usage, t.selector, t.matchingType, t.data.toString('hex')], [3, 1, 1, 'abcd']);
    const servfail = Buffer.from(header);
    servfail.writeUInt16BE(0x8182, 2);
    servfail.writeUInt16BE(0, 6);
    const bogus = decodeResponse(Buffer.concat([servfail, question]));
    assert.deepEqual([bogus.rcode, bogus.authenticated, bogus.answers], [2, false, []]);
    assert.throws(() => decodeResponse(Buffer.concat([header, question, mx.subarray(0, 10)])));
  });
});
