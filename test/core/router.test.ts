import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdjustableClock } from '../../infra/clock/index.js';
import { Router, type Route, type SmartHost } from '../../mta/routing/router.js';
import { tableResolver, type DnsName } from '../helpers/dns-table.js';

/**
 * Where mail for a domain goes, decided from DNS answers given in a table (the resolver is the
 * router's port): MX order, implicit MX, null MX, NXDOMAIN, DNS trouble, smart host, address
 * literals, and how long an answer is kept.
 */
const PORT = 25;
const clock = () => new AdjustableClock('2026-03-01T00:00:00Z');
const router = (names: Record<string, DnsName>, smartHost?: SmartHost) =>
  new Router(tableResolver(names), PORT, { clock: clock(), smartHost });
const host = (name: string, ...addresses: string[]) => ({ name, addresses, port: PORT });

describe('router: a domain to the hosts its mail goes to', () => {
  const cases: { name: string; names: Record<string, DnsName>; domain?: string; smartHost?: SmartHost; then: Route }[] =
    [
      {
        name: 'MX hosts in preference order, each with its IPv4 then IPv6 addresses',
        names: {
          'example.com': {
            mx: [
              { exchange: 'mx2.example.com', priority: 20 },
              { exchange: 'mx1.example.com', priority: 10 },
            ],
          },
          'mx1.example.com': { a: ['192.0.2.1'], aaaa: ['2001:db8::1'] },
          'mx2.example.com': { a: ['192.0.2.2'] },
        },
        then: {
          kind: 'deliver',
          via: 'mx',
          hosts: [host('mx1.example.com', '192.0.2.1', '2001:db8::1'), host('mx2.example.com', '192.0.2.2')],
        },
      },
      {
        name: 'an MX host without an address is left out; names are lower-cased',
        names: {
          'example.com': {
            mx: [
              { exchange: 'gone.example.com', priority: 5 },
              { exchange: 'MX.Example.com', priority: 10 },
            ],
          },
          'gone.example.com': {},
          'mx.example.com': { a: ['192.0.2.3'] },
        },
        then: { kind: 'deliver', via: 'mx', hosts: [host('mx.example.com', '192.0.2.3')] },
      },
      {
        name: 'an MX host whose A look-up times out is skipped while another answers',
        names: {
          'example.com': {
            mx: [
              { exchange: 'slow.example.com', priority: 10 },
              { exchange: 'mx.example.com', priority: 20 },
            ],
          },
          'slow.example.com': { a: { fail: 'ETIMEOUT' } },
          'mx.example.com': { a: ['192.0.2.4'], aaaa: { fail: 'ETIMEOUT' } },
        },
        then: { kind: 'deliver', via: 'mx', hosts: [host('mx.example.com', '192.0.2.4')] },
      },
      {
        name: 'no MX record: the domain itself (implicit MX)',
        names: { 'example.com': { a: ['192.0.2.5'] } },
        then: { kind: 'deliver', via: 'implicit-mx', hosts: [host('example.com', '192.0.2.5')] },
      },
      {
        name: 'an empty MX answer: the domain itself',
        names: { 'example.com': { mx: [], aaaa: ['2001:db8::5'] } },
        then: { kind: 'deliver', via: 'implicit-mx', hosts: [host('example.com', '2001:db8::5')] },
      },
      {
        name: 'no MX and no address: bounced (5.1.2)',
        names: { 'example.com': {} },
        then: { kind: 'bounce', reason: 'example.com has no MX and no address record', enhancedCode: '5.1.2' },
      },
      {
        name: 'a domain that does not exist: bounced (5.1.2)',
        names: {},
        then: { kind: 'bounce', reason: 'example.com does not exist (NXDOMAIN)', enhancedCode: '5.1.2' },
      },
      {
        name: 'a null MX (RFC 7505): bounced (5.1.10)',
        names: { 'example.com': { mx: [{ exchange: '', priority: 0 }], a: ['192.0.2.6'] } },
        then: {
          kind: 'bounce',
          reason: 'example.com accepts no mail (null MX, RFC 7505)',
          enhancedCode: '5.1.10',
        },
      },
      {
        name: 'MX hosts none of which has an address: bounced (5.4.4)',
        names: { 'example.com': { mx: [{ exchange: 'mx.example.com', priority: 10 }] }, 'mx.example.com': {} },
        then: { kind: 'bounce', reason: 'no MX host of example.com has an address', enhancedCode: '5.4.4' },
      },
      {
        name: 'SERVFAIL on the MX query: deferred',
        names: { 'example.com': { mx: { fail: 'ESERVFAIL' } } },
        then: { kind: 'defer', reason: 'DNS lookup of example.com failed (ESERVFAIL)' },
      },
      {
        name: 'an implicit MX whose address query times out: deferred',
        names: { 'example.com': { a: { fail: 'ETIMEOUT' } } },
        then: { kind: 'defer', reason: 'DNS lookup of example.com failed (ETIMEOUT)' },
      },
      {
        name: 'MX hosts whose addresses cannot be resolved right now: deferred, not bounced',
        names: {
          'example.com': { mx: [{ exchange: 'mx.example.com', priority: 10 }] },
          'mx.example.com': { a: { fail: 'ESERVFAIL' } },
        },
        then: { kind: 'defer', reason: 'the MX hosts of example.com could not be resolved right now' },
      },
      {
        name: 'a smart host by name: its addresses, whatever the domain',
        names: { 'relay.example.net': { a: ['192.0.2.7'] } },
        smartHost: { host: 'relay.example.net', port: 587 },
        then: {
          kind: 'deliver',
          via: 'smart-host',
          hosts: [{ name: 'relay.example.net', addresses: ['192.0.2.7'], port: 587 }],
        },
      },
      {
        name: 'a smart host by address: no DNS at all',
        names: {},
        smartHost: { host: '192.0.2.8', port: 2525 },
        then: {
          kind: 'deliver',
          via: 'smart-host',
          hosts: [{ name: '192.0.2.8', addresses: ['192.0.2.8'], port: 2525 }],
        },
      },
      {
        name: 'a smart host without an address: deferred',
        names: {},
        smartHost: { host: 'relay.example.net', port: 587 },
        then: { kind: 'defer', reason: 'the smart host relay.example.net has no address' },
      },
      {
        name: 'an address literal: its address, no DNS',
        names: {},
        domain: '[192.0.2.9]',
        then: { kind: 'deliver', via: 'address-literal', hosts: [host('192.0.2.9', '192.0.2.9')] },
      },
    ];
  for (const c of cases) {
    it(c.name, async () => {
      assert.deepEqual(await router(c.names, c.smartHost).route(c.domain ?? 'example.com'), c.then);
    });
  }

  it('MX hosts of equal preference are all tried, after the preferred one', async () => {
    const names: Record<string, DnsName> = {
      'example.com': {
        mx: [
          { exchange: 'b.example.com', priority: 20 },
          { exchange: 'a.example.com', priority: 10 },
          { exchange: 'c.example.com', priority: 20 },
        ],
      },
      'a.example.com': { a: ['192.0.2.10'] },
      'b.example.com': { a: ['192.0.2.11'] },
      'c.example.com': { a: ['192.0.2.12'] },
    };
    const route = await router(names).route('example.com');
    assert.equal(route.kind, 'deliver');
    const order = route.kind === 'deliver' ? route.hosts.map((h) => h.name) : [];
    assert.equal(order[0], 'a.example.com');
    assert.deepEqual(order.slice(1).sort(), ['b.example.com', 'c.example.com']);
  });

  it('keeps an answer for its TTL, and asks again after it; DNS trouble is asked again at once', async () => {
    const names: Record<string, DnsName> = {
      'example.com': { a: ['192.0.2.13'] },
      'broken.example': { mx: { fail: 'ESERVFAIL' } },
    };
    const resolver = tableResolver(names);
    const time = clock();
    const r = new Router(resolver, PORT, { clock: time, ttlMs: 60_000 });
    const mxQueries = (domain: string) => resolver.asked.filter((q) => q === `MX ${domain}`).length;
    await r.route('example.com');
    await r.route('EXAMPLE.com');
    assert.equal(mxQueries('example.com'), 1, 'answered from the cache, whatever the case');
    await time.advance(59_999);
    await r.route('example.com');
    assert.equal(mxQueries('example.com'), 1, 'still within the TTL');
    await time.advance(1);
    names['example.com'] = { a: ['192.0.2.14'] };
    assert.deepEqual(await r.route('example.com'), {
      kind: 'deliver',
      via: 'implicit-mx',
      hosts: [host('example.com', '192.0.2.14')],
    });
    assert.equal(mxQueries('example.com'), 2, 'asked again once the TTL ran out');
    await r.route('broken.example');
    await r.route('broken.example');
    assert.equal(mxQueries('broken.example'), 2, 'a deferral is not cached');
  });

  it('keeps answers for a bounded number of domains, the least recently used out first', async () => {
    const names: Record<string, DnsName> = {};
    for (const d of ['a', 'b', 'c']) names[`${d}.example`] = { a: ['192.0.2.20'] };
    const resolver = tableResolver(names);
    const r = new Router(resolver, PORT, { clock: clock(), maxDomains: 2 });
    const mxQueries = (domain: string) => resolver.asked.filter((q) => q === `MX ${domain}`).length;
    await r.route('a.example');
    await r.route('b.example');
    await r.route('a.example');
    await r.route('c.example'); // b was used least recently: it goes
    await r.route('a.example');
    assert.equal(mxQueries('a.example'), 1, 'a stayed');
    await r.route('b.example');
    assert.equal(mxQueries('b.example'), 2, 'b was asked again');
  });
});
