import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blocklistQueryName, blocklistVerdict, decideBlocklist } from '../../domain/index.js';

describe('blocklist look-ups (RFC 5782)', () => {
  it('reverses IPv4 octets and IPv6 nibbles, and asks a domain list for the domain', () => {
    assert.equal(blocklistQueryName('ip', '192.0.2.10', 'zen.spamhaus.org'), '10.2.0.192.zen.spamhaus.org');
    // RFC 5782 §2.4's own example
    assert.equal(
      blocklistQueryName('ip', '2001:db8:1:2:3:4:567:89ab', 'ugly.example.com'),
      'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com',
    );
    assert.equal(blocklistQueryName('ip', '2001:db8::1', 'z.test'), `1.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.z.test`);
    assert.equal(blocklistQueryName('domain', 'Example.COM.', 'dbl.spamhaus.org'), 'example.com.dbl.spamhaus.org');
  });

  it('reads 127.0.0.x as listed, nothing as clean, 127.255.255.x and foreign answers as no answer', () => {
    assert.deepEqual(blocklistVerdict(['127.0.0.4', '127.0.0.2']), {
      state: 'listed',
      codes: ['127.0.0.2', '127.0.0.4'],
    });
    assert.deepEqual(blocklistVerdict([]), { state: 'clean' });
    assert.equal(blocklistVerdict(['127.255.255.254']).state, 'unknown');
    assert.equal(blocklistVerdict(['127.0.0.2', '127.255.255.255']).state, 'unknown');
    assert.equal(blocklistVerdict(['198.51.100.1']).state, 'unknown');
  });

  it('records a change only: listed, delisted, and nothing for the same state or no answer', () => {
    const change = {
      kind: 'ip' as const,
      target: '192.0.2.10',
      zone: 'z.test',
      reason: 'r',
      serverIds: [],
      at: '2026-12-06T00:00:00Z',
    };
    assert.deepEqual(
      decideBlocklist(false, { state: 'listed', codes: ['127.0.0.2'] }, change).map((e) => e.type),
      ['IpListed'],
    );
    assert.deepEqual(decideBlocklist(true, { state: 'listed', codes: ['127.0.0.2'] }, change), []);
    assert.deepEqual(
      decideBlocklist(true, { state: 'clean' }, { ...change, kind: 'domain' }).map((e) => e.type),
      ['DomainDelisted'],
    );
    assert.deepEqual(decideBlocklist(true, { state: 'unknown', why: 'refused' }, change), []);
  });
});
