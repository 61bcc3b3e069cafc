import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPrivateAddress } from '../../infra/http/outbound.js';
import { rewriteHtml } from '../../write-side/tracking/rewrite-html.js';

describe('guards against hostile input', () => {
  it('never lets a route post to loopback, private, link-local or CGNAT addresses', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1']) {
      assert.equal(isPrivateAddress(ip), true, ip);
    }
    for (const ip of ['93.184.216.34', '172.32.0.1', '8.8.8.8', '2001:4860:4860::8888']) assert.equal(isPrivateAddress(ip), false, ip);
  });

  it('rewrites links in linear time, and leaves odd ones alone', () => {
    const o = { trackClicks: true, trackOpens: false, excludedDomains: [], clickUrl: (u: string) => `T(${u})`, openUrl: () => 'P' };
    const started = performance.now();
    rewriteHtml('<a '.repeat(200_000), o);
    assert.ok(performance.now() - started < 1000, 'no catastrophic backtracking');
    assert.equal(rewriteHtml('<a href="https://x.example/\u0000">x</a>', o), '<a href="https://x.example/\u0000">x</a>');
    assert.equal(rewriteHtml('<a href="https://x.example/a b">x</a>', o), '<a href="https://x.example/a b">x</a>');
    assert.equal(rewriteHtml('<abbr title="https://x.example">x</abbr>', o), '<abbr title="https://x.example">x</abbr>');
  });
});
