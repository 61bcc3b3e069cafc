import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createServer } from 'node:http';
import { createJsonPoster, isPrivateAddress, resolvesToPrivateAddress } from '../../infra/http/outbound.js';
import { rewriteHtml } from '../../write-side/tracking/rewrite-html.js';

describe('guards against hostile input', () => {
  it('never lets a route post to loopback, private, link-local or CGNAT addresses', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
    ]) {
      assert.equal(isPrivateAddress(ip), true, ip);
    }
    for (const ip of ['93.184.216.34', '172.32.0.1', '8.8.8.8', '2001:4860:4860::8888', '64:ff9b::808:808'])
      assert.equal(isPrivateAddress(ip), false, ip);
  });

  it('sees through IPv4 addresses written as IPv6 (mapped, NAT64, 6to4) and refuses reserved ranges', async () => {
    // the URL parser turns [::ffff:127.0.0.1] into [::ffff:7f00:1]: still loopback
    for (const ip of [
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::7f00:1',
      '64:ff9b::127.0.0.1',
      '2002:7f00:1::1',
      '::7f00:1',
      'fec0::1',
      'ff02::1',
      '240.0.0.1',
      '198.18.0.1',
      '224.0.0.1',
      'not-an-ip',
    ]) {
      assert.equal(isPrivateAddress(ip), true, ip);
    }
    assert.equal(await resolvesToPrivateAddress('http://[::ffff:127.0.0.1]:1/'), '::ffff:7f00:1');
    let hits = 0;
    const listener = createServer((_req, res) => (hits++, res.end('hit')));
    await new Promise<void>((r) => listener.listen(0, '::', r));
    const port = (listener.address() as { port: number }).port;
    const poster = createJsonPoster({ timeoutMs: 2000, allowPrivate: false });
    try {
      for (const url of [
        `http://[::ffff:127.0.0.1]:${port}/`,
        `http://[::ffff:7f00:1]:${port}/`,
        `http://localhost:${port}/`,
        `http://127.1:${port}/`,
      ]) {
        await assert.rejects(poster.post(url, '{}', {}), /private/, url);
      }
      assert.equal(hits, 0, 'nothing reached the listener');
    } finally {
      poster.close();
      listener.close();
    }
  });

  it('rewrites links in linear time, and leaves odd ones alone', () => {
    const o = {
      trackClicks: true,
      trackOpens: false,
      excludedDomains: [],
      clickUrl: (u: string) => `T(${u})`,
      openUrl: () => 'P',
    };
    const started = performance.now();
    rewriteHtml('<a '.repeat(200_000), o);
    assert.ok(performance.now() - started < 1000, 'no catastrophic backtracking');
    assert.equal(
      rewriteHtml('<a href="https://x.example/\u0000">x</a>', o),
      '<a href="https://x.example/\u0000">x</a>',
    );
    assert.equal(rewriteHtml('<a href="https://x.example/a b">x</a>', o), '<a href="https://x.example/a b">x</a>');
    assert.equal(
      rewriteHtml('<abbr title="https://x.example">x</abbr>', o),
      '<abbr title="https://x.example">x</abbr>',
    );
  });
});
