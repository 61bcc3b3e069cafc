import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ipv6Text, readProxyHeader } from '../../infra/smtp/proxy-protocol.js';
import { isListed, proxyAllowList } from '../../write-side/smtp/proxy-header.js';

const SIGNATURE = '0d0a0d0a000d0a515549540a';
/** A v2 header as a proxy sends it, from its hex dump. */
const v2 = (hex: string) => Buffer.from(SIGNATURE + hex.replace(/\s+/g, ''), 'hex');

describe('PROXY protocol v1 (text)', () => {
  it('reads TCP4 and TCP6 headers and leaves what follows them', () => {
    const bytes = Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 56324 587\r\nEHLO client\r\n');
    assert.deepEqual(readProxyHeader(bytes), {
      kind: 'header',
      version: 1,
      length: 44,
      client: { address: '203.0.113.7', port: 56324 },
    });
    assert.equal(bytes.subarray(44).toString(), 'EHLO client\r\n');
    assert.deepEqual(readProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 4000 465\r\n')), {
      kind: 'header',
      version: 1,
      length: 45,
      client: { address: '2001:db8::7', port: 4000 },
    });
  });

  it('takes UNKNOWN (the proxy cannot say) without a client', () => {
    assert.deepEqual(readProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', version: 1, length: 15 });
  });

  it('waits for the rest of a header split across packets', () => {
    for (const part of ['P', 'PROXY', 'PROXY TCP4 203.0.113.7 192.0.2.1 56324 5', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r'])
      assert.deepEqual(readProxyHeader(Buffer.from(part)), { kind: 'incomplete' }, part);
  });

  it('refuses anything else', () => {
    for (const bad of [
      'EHLO client\r\n',
      'PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n',
      'PROXY TCP6 203.0.113.7 2001:db8::1 1 2\r\n',
      'PROXY TCP4 203.0.113.7 192.0.2.1 65536 587\r\n',
      'PROXY TCP4 203.0.113.7 192.0.2.1 0587 587\r\n',
      'PROXY TCP4 203.0.113.7 192.0.2.1 1 2 3\r\n',
      'PROXY UDP4 203.0.113.7 192.0.2.1 1 2\r\n',
      'PROXY TCP4 203.0.113.7\r\n\r\n',
      `PROXY ${'x'.repeat(120)}`,
    ])
      assert.equal(readProxyHeader(Buffer.from(bad)).kind, 'invalid', JSON.stringify(bad));
  });
});

describe('PROXY protocol v2 (binary)', () => {
  it('reads a TCP over IPv4 header (as HAProxy sends it)', () => {
    // version 2 PROXY, AF_INET STREAM, 12 bytes: 203.0.113.7 → 192.0.2.1, 56324 → 587
    const bytes = Buffer.concat([v2('21 11 000c cb007107 c0000201 dc04 024b'), Buffer.from('EHLO x\r\n')]);
    assert.deepEqual(readProxyHeader(bytes), {
      kind: 'header',
      version: 2,
      length: 28,
      client: { address: '203.0.113.7', port: 56324 },
    });
  });

  it('reads a TCP over IPv6 header with TLVs after the addresses', () => {
    const addresses = '20010db8000000000000000000000007' + '20010db8000000000000000000000001' + '0fa0' + '01d1';
    const tlvs = '05 0004 61626364'; // PP2_TYPE_UNIQUE_ID "abcd"
    const body = addresses + tlvs.replace(/\s+/g, '');
    const length = (body.length / 2).toString(16).padStart(4, '0');
    assert.deepEqual(readProxyHeader(v2(`21 21 ${length} ${body}`)), {
      kind: 'header',
      version: 2,
      length: 16 + 43,
      client: { address: '2001:db8::7', port: 4000 },
    });
  });

  it('takes LOCAL (a health check of the proxy) and UNSPEC without a client', () => {
    assert.deepEqual(readProxyHeader(v2('20 00 0000')), { kind: 'header', version: 2, length: 16 });
    // LOCAL may carry addresses: they are not a client's
    assert.deepEqual(readProxyHeader(v2('20 11 000c cb007107 c0000201 dc04 024b')), {
      kind: 'header',
      version: 2,
      length: 28,
    });
    assert.deepEqual(readProxyHeader(v2('21 00 0000')), { kind: 'header', version: 2, length: 16 });
  });

  it('waits for the whole header, then refuses a wrong version, command, family or length', () => {
    assert.deepEqual(readProxyHeader(Buffer.from(SIGNATURE.slice(0, 10), 'hex')), { kind: 'incomplete' });
    assert.deepEqual(readProxyHeader(v2('21 11 000c cb00')), { kind: 'incomplete' });
    for (const bad of ['11 11 000c', '22 11 000c', '21 41 000c', '21 11 0004 cb007107', '21 11 2000'])
      assert.equal(readProxyHeader(v2(`${bad}${'00'.repeat(12)}`)).kind, 'invalid', bad);
  });

  it('writes IPv6 addresses as RFC 5952 does', () => {
    const text = (hex: string) => ipv6Text(Buffer.from(hex, 'hex'));
    assert.equal(text('00000000000000000000000000000001'), '::1');
    assert.equal(text('20010db8000000010000000000000001'), '2001:db8:0:1::1');
    assert.equal(text('20010db8000100010001000100010001'), '2001:db8:1:1:1:1:1:1');
    assert.equal(text('00000000000000000000ffffcb007107'), '::ffff:203.0.113.7');
    assert.equal(text('fe800000000000000000000000000000'), 'fe80::');
  });
});

describe('the PROXY allow-list', () => {
  it('matches IPv4 and IPv6 ranges, an IPv4 peer of a dual-stack listener too', () => {
    const list = proxyAllowList(['10.0.0.0/8', '2001:db8::/32', '127.0.0.1']);
    for (const peer of ['10.1.2.3', '::ffff:10.1.2.3', '2001:db8::5', '127.0.0.1'])
      assert.ok(isListed(list, peer), peer);
    for (const peer of ['11.0.0.1', '::ffff:11.0.0.1', '2001:db9::1', '127.0.0.2', undefined])
      assert.ok(!isListed(list, peer), String(peer));
  });
});
