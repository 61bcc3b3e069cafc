import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthThrottle, throttleKey } from '../../write-side/smtp/auth-throttle.js';

describe('the SMTP login throttle', () => {
  it('blocks an address at the limit within a minute, and lets it in again a minute after its failures', () => {
    let now = 1_000_000;
    const throttle = new AuthThrottle(3, 100, () => now);
    for (let i = 0; i < 3; i++) {
      assert.equal(throttle.blocked('198.51.100.1'), false);
      throttle.record('198.51.100.1');
      now += 1_000;
    }
    assert.equal(throttle.blocked('198.51.100.1'), true);
    assert.equal(throttle.blocked('198.51.100.2'), false, 'per address');
    now += 58_000;
    assert.equal(throttle.blocked('198.51.100.1'), false, 'the first failure left the window');
    now += 2_000;
    assert.equal(throttle.blocked('198.51.100.1'), false);
    assert.equal(throttle.size, 0, 'an address with no failure left is forgotten');
  });

  it('stays bounded under a flood of new addresses without forgetting the worst offender', () => {
    let now = 0;
    const throttle = new AuthThrottle(5, 1_000, () => now);
    for (let i = 0; i < 5; i++) throttle.record('203.0.113.66');
    for (let i = 0; i < 50_000; i++) {
      throttle.record(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      if (i % 1000 === 0) now += 1;
    }
    assert.ok(throttle.size <= 1_000, `holds ${throttle.size}`);
    assert.equal(throttle.blocked('203.0.113.66'), true, 'the offender is still blocked');
  });

  it('counts an IPv6 client by its /64, and an IPv4-mapped address as the IPv4 one', () => {
    assert.equal(throttleKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(throttleKey('2001:0db8:0001:0002:ffff:1:2:3'), '2001:db8:1:2::/64');
    assert.equal(throttleKey('::1'), '0:0:0:0::/64');
    assert.equal(throttleKey('::ffff:198.51.100.7'), '198.51.100.7');
    const throttle = new AuthThrottle(3, 100);
    for (const host of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:abcd::9']) throttle.record(host);
    assert.equal(throttle.blocked('2001:db8:1:2::77'), true, 'every address of the /64');
    assert.equal(throttle.blocked('2001:db8:1:3::1'), false, 'the next /64 is another client');
    throttle.record('::ffff:198.51.100.7');
    throttle.record('198.51.100.7');
    throttle.record('198.51.100.7');
    assert.equal(throttle.blocked('198.51.100.7'), true);
  });
});
