import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { domainDnsStreamId, sendLimitStreamId, systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';

/** Postal's server and domain webhooks: SendLimitApproaching, SendLimitExceeded, DomainDNSError (issue 23). */
describe('webhooks about servers and domains: send limits and periodic DNS checks', { skip }, () => {
  let t: TestApp;
  let dns: DnsServer | undefined;
  let dnsPort: number;
  const receivers: WebhookReceiver[] = [];
  const receiverFor = async (tenant: Tenant, events: string[]) => {
    const r = await startWebhookReceiver();
    receivers.push(r);
    const res = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/webhooks`, {
      body: { url: r.url, events },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return r;
  };
  const admin = (tenant: Tenant) => ({ authorization: `Bearer ${tenant.adminToken}` });

  before(async () => {
    dnsPort = await freeUdpPort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,projector',
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      // every 1.2 s, so a test sees a change within a few seconds
      POSTLOG_DOMAIN_CHECK_MINUTES: '0.02',
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_WEBHOOK_POLL_MS: '50',
    });
  });
  after(async () => {
    await t?.stop();
    await dns?.stop();
    for (const r of receivers) await r.close();
  });

  it('warns at 90 % of the hourly send limit and when a message is held for it, once per window', async () => {
    const tenant = await createTenant(t.app, { domain: 'limited.test' });
    await t.app.tenancy.updateServer(systemActor('test'), tenant.server.id, { sendLimitPerHour: 10 });
    const r = await receiverFor(tenant, ['SendLimitApproaching', 'SendLimitExceeded']);
    const send = async (n: number) => {
      const res = await http(t.url, 'POST', '/v2/messages', {
        body: {
          from: 'app@limited.test',
          to: Array.from({ length: n }, (_, i) => `r${i}@example.org`),
          subject: 's',
          text: 'x',
        },
        headers: { 'X-Server-API-Key': tenant.apiKey },
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return (res.body.messages as { status: string }[]).map((m) => m.status);
    };
    assert.deepEqual(await send(8), Array(8).fill('queued'));
    assert.deepEqual(await send(1), ['queued'], 'the ninth of ten: approaching');
    assert.deepEqual(await send(2), ['queued', 'held'], 'the eleventh is held: exceeded');
    assert.deepEqual(await send(3), ['held', 'held', 'held'], 'no further warning in this window');

    await eventually(
      async () => (r.received.length >= 2 ? true : undefined),
      () => `received ${r.received.map((h) => h.json.event).join(', ')}`,
      { intervalMs: 50 },
    );
    await new Promise((resolve) => setTimeout(resolve, 500)); // nothing more may come
    assert.deepEqual(
      r.received.map((h) => h.json.event),
      ['SendLimitApproaching', 'SendLimitExceeded'],
    );
    const server = { uuid: tenant.server.id, name: 'Test server', permalink: tenant.server.id };
    const [approaching, exceeded] = r.received.map((h) => h.json.payload);
    assert.deepEqual(approaching, { server: { ...server, organization: tenant.organizationId }, volume: 9, limit: 10 });
    assert.deepEqual(exceeded, { server: { ...server, organization: tenant.organizationId }, volume: 11, limit: 10 });

    // in the log, on the server's own stream, once each
    const events = await t.app.eventStore.readStream(sendLimitStreamId(tenant.server.id));
    assert.deepEqual(
      events.map((e) => e.type),
      ['SendLimitApproached', 'SendLimitExceeded'],
    );
  });

  it('re-checks a verified domain: DomainDNSError when a record goes, its last check in GET, and back', async () => {
    const tenant = await createTenant(t.app, { domain: 'tenant.test' });
    const r = await receiverFor(tenant, ['DomainDNSError']);
    // an endpoint hears of the events recorded after it was created, and a verified domain is first checked
    // at the next run (every 1.2 s): owner.test, whose first check is asserted below, comes after the endpoint
    const owner = await t.app.tenancy.createDomain(systemActor('test'), tenant.server.id, {
      name: 'owner.test',
      verified: true,
      ed25519: false,
    });
    assert.ok(owner.ok, JSON.stringify(owner));
    // owner.test (published nowhere) fails its checks too: only checked.test's webhooks count here
    const hooks = () => r.received.filter((h) => h.json.payload.domain === 'checked.test');
    // not verified yet: the periodic check leaves it alone until it is
    const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/domains`, {
      body: { name: 'checked.test' },
      headers: admin(tenant),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const domain = created.body as { id: string; dnsRecords: { purpose: string; name: string; value: string }[] };
    const record = (purpose: string) => domain.dnsRecords.find((x) => x.purpose === purpose)!;
    const published = {
      local: ['checked.test'],
      txt: [
        ['checked.test', record('verification').value],
        ['checked.test', record('spf').value],
        [record('dkim').name, record('dkim').value],
      ] as [string, string][],
    };
    dns = await startDnsServer(published, dnsPort);
    const verified = await http(t.url, 'POST', `/v2/domains/${domain.id}/verify`, { headers: admin(tenant) });
    assert.equal(verified.body.verified, true, JSON.stringify(verified.body.checks));

    const view = async () => (await http(t.url, 'GET', `/v2/domains/${domain.id}`, { headers: admin(tenant) })).body;
    const passing = await eventually(
      async () => ((await view()).dnsCheck?.status === 'ok' ? view() : undefined),
      () => 'the domain was never checked',
      { intervalMs: 100 },
    );
    assert.deepEqual(passing.dnsCheck.health, {
      spf: { status: 'OK', error: null },
      dkim: { status: 'OK', error: null },
      // no return-path CNAME: only bounce handling suffers, as Postal sees it
      returnPath: { status: 'Missing', error: 'There is no return path record at psrp.checked.test' },
    });
    const firstCheck = Date.parse(passing.dnsCheck.checkedAt);
    // checked again and again while it passes, without an event
    await eventually(
      async () => (Date.parse((await view()).dnsCheck.checkedAt) > firstCheck ? true : undefined),
      () => 'the domain was not checked again',
      { intervalMs: 100 },
    );
    assert.deepEqual(await t.app.eventStore.readStream(domainDnsStreamId(domain.id)), []);

    // the resolver goes away for two check runs: a look-up it does not answer is no finding, so nothing changes
    await dns.stop();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.deepEqual(await t.app.eventStore.readStream(domainDnsStreamId(domain.id)), [], 'no answer, no change');
    // and comes back without the DKIM record
    dns = await startDnsServer({ ...published, txt: published.txt.slice(0, 2) }, dnsPort);
    const failing = await eventually(
      async () => ((await view()).dnsCheck.status === 'failing' ? view() : undefined),
      () => 'the domain never failed its check',
      { intervalMs: 100 },
    );
    assert.deepEqual(failing.dnsCheck.health.dkim, {
      status: 'Missing',
      error: `No TXT records were returned for ${record('dkim').name}`,
    });
    assert.equal(failing.verified, true, 'a failing check does not unverify the domain');
    const hook = await eventually(
      async () => hooks()[0],
      () => 'no DomainDNSError arrived',
      { intervalMs: 50 },
    );
    assert.equal(hook.json.event, 'DomainDNSError');
    assert.deepEqual(hook.json.payload, {
      server: {
        uuid: tenant.server.id,
        name: 'Test server',
        permalink: tenant.server.id,
        organization: tenant.organizationId,
      },
      domain: 'checked.test',
      uuid: domain.id,
      dns_checked_at: hook.json.payload.dns_checked_at,
      spf_status: 'OK',
      spf_error: null,
      dkim_status: 'Missing',
      dkim_error: `No TXT records were returned for ${record('dkim').name}`,
      mx_status: null,
      mx_error: null,
      return_path_status: 'Missing',
      return_path_error: 'There is no return path record at psrp.checked.test',
    });
    assert.equal(typeof hook.json.payload.dns_checked_at, 'number');

    // published again: passing, with an event of its own (no webhook: Postal has none)
    await dns.stop();
    dns = await startDnsServer(published, dnsPort);
    await eventually(
      async () => ((await view()).dnsCheck.status === 'ok' ? true : undefined),
      () => 'the domain never passed again',
      { intervalMs: 100 },
    );
    const events = await eventually(
      async () => {
        const e = await t.app.eventStore.readStream(domainDnsStreamId(domain.id));
        return e.length === 2 ? e : undefined;
      },
      () => 'the stream lacks the change back',
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['DomainDnsFailed', 'DomainDnsRestored'],
    );
    await new Promise((resolve) => setTimeout(resolve, 1500)); // a further check changes nothing
    assert.equal((await t.app.eventStore.readStream(domainDnsStreamId(domain.id))).length, 2);
    assert.equal(hooks().length, 1, 'one DomainDNSError for one change');
    assert.ok(
      r.received.some((h) => h.json.payload.domain === 'owner.test'),
      'a domain failing from its first check is reported too',
    );
  });
});
