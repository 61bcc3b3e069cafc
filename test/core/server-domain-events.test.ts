import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideDnsCheck,
  dnsHealth,
  dnsStatusAfter,
  dnsStatusOf,
  sendLimitWarnings,
  tenancyEventCodec,
  tenancyWebhookPayload,
  type DnsHealth,
  type RecordLookup,
  type TenancyEvent,
} from '../../domain/index.js';

const at = '2026-03-01T10:20:00.000Z';
const windowStart = '2026-03-01T10:00:00.000Z';
const roundTrips = (events: TenancyEvent[]) => {
  for (const e of events) {
    const decoded = tenancyEventCodec.decode(e.type, tenancyEventCodec.schemaVersionOf(e.type), e.data);
    assert.deepEqual(decoded.ok && decoded.value, e, `${e.type} changes through the codec`);
  }
};

describe('send-limit warnings', () => {
  const warn = (limit: number, before: number, after: number) =>
    sendLimitWarnings({ serverId: 'srv', limit, before, after, windowStart, at }).map((e) => [e.type, e.data.volume]);

  it('SendLimitApproached when a request reaches 90 %, SendLimitExceeded when it passes the limit', () => {
    assert.deepEqual(warn(100, 0, 89), []);
    assert.deepEqual(warn(100, 89, 90), [['SendLimitApproached', 90]]);
    assert.deepEqual(warn(100, 90, 100), [], 'reaching the limit holds nothing yet');
    assert.deepEqual(warn(100, 100, 101), [['SendLimitExceeded', 101]]);
    assert.deepEqual(warn(100, 101, 150), [], 'once per window');
    assert.deepEqual(warn(100, 50, 150), [
      ['SendLimitApproached', 150],
      ['SendLimitExceeded', 150],
    ]);
  });

  it('rounds 90 % up, so a small limit warns before it is used up', () => {
    assert.deepEqual(warn(1, 0, 1), [['SendLimitApproached', 1]]);
    assert.deepEqual(warn(1, 1, 2), [['SendLimitExceeded', 2]]);
    assert.deepEqual(warn(5, 4, 5), [['SendLimitApproached', 5]]);
  });

  it('the events decode unchanged', () => {
    roundTrips(sendLimitWarnings({ serverId: 'srv', limit: 10, before: 0, after: 20, windowStart, at }));
  });
});

describe('domain DNS health and its changes', () => {
  const lookup = (purpose: string, name: string, found: string[], ok: boolean, expected = ''): RecordLookup => ({
    purpose,
    name,
    expected,
    found,
    ok,
  });
  const dkim = 'pl1._domainkey.example.com';
  const retired = 'pl0._domainkey.example.com';
  const good = [
    lookup('verification', 'example.com', ['postlog-verification=x'], true),
    lookup('spf', 'example.com', ['v=spf1 include:spf.postlog.test ~all'], true),
    lookup('dkim', dkim, ['v=DKIM1; p=AAA'], true),
    lookup('dkim', retired, [], false),
    lookup('return-path', 'psrp.example.com', ['rp.postlog.test'], true, 'rp.postlog.test'),
    lookup('dmarc', '_dmarc.example.com', [], false),
  ];
  const health = (lookups: RecordLookup[]) => dnsHealth(lookups, [dkim], 'spf.postlog.test');
  const replace = (purpose: string, l: RecordLookup) =>
    good.map((g) => (g.purpose === purpose && g.name === l.name ? l : g));

  it("passes with SPF and the active DKIM key in place (a retired key's record and DMARC do not count)", () => {
    const h = health(good);
    assert.deepEqual(h, {
      spf: { status: 'OK', error: null },
      dkim: { status: 'OK', error: null },
      returnPath: { status: 'OK', error: null },
    });
    assert.equal(dnsStatusOf(h), 'ok');
  });

  it("says what is wrong, in Postal's words", () => {
    const noSpf = health(replace('spf', lookup('spf', 'example.com', ['google-site-verification=1'], false)));
    assert.deepEqual(noSpf.spf, { status: 'Missing', error: 'No SPF record exists for this domain' });
    const otherSpf = health(replace('spf', lookup('spf', 'example.com', ['v=spf1 include:other.test ~all'], false)));
    assert.deepEqual(otherSpf.spf, {
      status: 'Invalid',
      error: "An SPF record exists but it doesn't include spf.postlog.test",
    });
    const wrongKey = health(replace('dkim', lookup('dkim', dkim, ['v=DKIM1; p=BBB'], false)));
    assert.equal(wrongKey.dkim.status, 'Invalid');
    assert.match(wrongKey.dkim.error!, /does not match/);
    const wrongCname = health(
      replace('return-path', lookup('return-path', 'psrp.example.com', ['elsewhere.test'], false, 'rp.postlog.test')),
    );
    assert.equal(wrongCname.returnPath.status, 'Invalid');
    assert.match(wrongCname.returnPath.error!, /points to elsewhere\.test .* should point to rp\.postlog\.test/);
    const noCname = health(replace('return-path', lookup('return-path', 'psrp.example.com', [], false)));
    assert.equal(noCname.returnPath.status, 'Missing');
    for (const h of [noSpf, otherSpf, wrongKey, wrongCname]) assert.equal(dnsStatusOf(h), 'failing');
    assert.equal(dnsStatusOf(noCname), 'ok', 'without a return path only bounce handling suffers');
  });

  it('records a change only: failing after passing (or never checked), passing after failing', () => {
    const failing: DnsHealth = health(replace('dkim', lookup('dkim', dkim, [], false)));
    const passing = health(good);
    const decide = (previous: 'ok' | 'failing' | undefined, h: DnsHealth) =>
      decideDnsCheck({ previous, serverId: 'srv', domain: 'example.com', health: h, at });
    assert.deepEqual(
      decide(undefined, failing).map((e) => e.type),
      ['DomainDnsFailed'],
    );
    assert.deepEqual(
      decide('ok', failing).map((e) => e.type),
      ['DomainDnsFailed'],
    );
    assert.deepEqual(decide('failing', failing), []);
    assert.deepEqual(
      decide('failing', passing).map((e) => e.type),
      ['DomainDnsRestored'],
    );
    assert.deepEqual(decide('ok', passing), []);
    assert.deepEqual(decide(undefined, passing), []);
    const history = [...decide(undefined, failing), ...decide('failing', passing)];
    roundTrips(history);
    assert.equal(dnsStatusAfter(history), 'ok');
    assert.equal(dnsStatusAfter(history.slice(0, 1)), 'failing');
    assert.equal(dnsStatusAfter([]), undefined);
  });

  it("DomainDNSError carries Postal's payload; passing again has no webhook", () => {
    const server = { serverId: 'srv', name: 'Main', organizationId: 'org' };
    const [failed] = decideDnsCheck({
      previous: 'ok',
      serverId: 'srv',
      domain: 'example.com',
      health: health(replace('dkim', lookup('dkim', dkim, [], false))),
      at,
    });
    const hook = tenancyWebhookPayload(failed!, server, 'dom-1')!;
    assert.equal(hook.event, 'DomainDNSError');
    assert.deepEqual(hook.payload, {
      server: { uuid: 'srv', name: 'Main', permalink: 'srv', organization: 'org' },
      domain: 'example.com',
      uuid: 'dom-1',
      dns_checked_at: Date.parse(at) / 1000,
      spf_status: 'OK',
      spf_error: null,
      dkim_status: 'Missing',
      dkim_error: `No TXT records were returned for ${dkim}`,
      mx_status: null,
      mx_error: null,
      return_path_status: 'OK',
      return_path_error: null,
    });
    const [restored] = decideDnsCheck({
      previous: 'failing',
      serverId: 'srv',
      domain: 'example.com',
      health: health(good),
      at,
    });
    assert.equal(tenancyWebhookPayload(restored!, server, 'dom-1'), undefined);
  });
});
