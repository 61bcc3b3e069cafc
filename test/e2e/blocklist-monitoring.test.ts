import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { browserMissing, launchBrowser } from '../helpers/browser.js';
import { dnsmasqAvailable, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import { runCli } from '../helpers/postlog-process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const POOLS = `ipPools:
  outbound:
    - { address: 192.0.2.10 }
    - { address: 192.0.2.11 }
    - { address: 192.0.2.12 }
`;

/**
 * Blocklist monitoring against a test list served by dnsmasq: 192.0.2.10 listed (127.0.0.2 and a
 * TXT reason), 192.0.2.11 not (NXDOMAIN), 192.0.2.12 answered 127.255.255.254 (Spamhaus's "query
 * refused": not a listing), and the domain acme.test on a domain list. `postlog dnsbl check` runs it.
 */
describe('blocklist monitoring: postlog dnsbl check against a dnsmasq test zone', { skip: !dnsmasqAvailable() }, () => {
  let t: TestApp;
  let acme: Tenant;
  let dns: DnsServer;
  let cliEnv: Record<string, string>;
  let hooks: WebhookReceiver;
  // dnsmasq splits a TXT value at commas into strings, which a reader joins: none here
  const REASON = 'Listed by ZEN: see https://check.spamhaus.test/query/ip/192.0.2.10';

  const startDns = (listed: boolean) =>
    startDnsServer({
      a: [
        ...(listed ? ([['10.2.0.192.zen.test', '127.0.0.2']] as [string, string][]) : []),
        ['12.2.0.192.zen.test', '127.255.255.254'],
        ['acme.test.dbl.test', '127.0.1.2'],
      ],
      txt: [
        ...(listed ? ([['10.2.0.192.zen.test', REASON]] as [string, string][]) : []),
        ['acme.test.dbl.test', 'spam domain https://check.spamhaus.test/acme.test'],
      ],
      local: ['zen.test', 'dbl.test'],
    });

  before(async () => {
    dns = await startDns(true);
    const yaml = join(mkdtempSync(join(tmpdir(), 'postlog-dnsbl-')), 'postlog.yaml');
    writeFileSync(yaml, POOLS);
    const env = {
      POSTLOG_DNSBL_ZONES: 'zen.test',
      POSTLOG_DNSBL_DOMAIN_ZONES: 'dbl.test',
      // the scheduler is off here: the CLI runs the check now
      POSTLOG_DNSBL_CHECK_MINUTES: '0',
    };
    t = await startTestApp(
      {
        ...env,
        POSTLOG_ROLES: 'api,projector',
        POSTLOG_DNS_SERVERS: dns.address,
        POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
        POSTLOG_WEBHOOK_POLL_MS: '50',
      },
      POOLS,
    );
    acme = await createTenant(t.app, { domain: 'acme.test', ipPool: 'outbound' });
    hooks = await startWebhookReceiver();
    const created = await http(t.url, 'POST', `/v2/servers/${acme.server.id}/webhooks`, {
      body: { url: hooks.url, events: ['IpListed', 'IpDelisted', 'DomainListed'] },
      headers: { 'X-Server-API-Key': acme.apiKey },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    cliEnv = {
      ...(process.env as Record<string, string>),
      ...env,
      POSTLOG_DATABASE_URL: t.db.url,
      POSTLOG_CONFIG: yaml,
      POSTLOG_LOG_FORMAT: 'json',
    };
  });

  after(async () => {
    await t?.stop();
    await dns?.stop();
    await hooks?.close();
  });

  const check = async () => {
    const res = await runCli(['dnsbl', 'check', '--json'], { ...cliEnv, POSTLOG_DNS_SERVERS: dns.address });
    assert.equal(res.code, 0, res.stderr);
    return (JSON.parse(res.stdout) as { checks: Record<string, unknown>[] }).checks;
  };
  const admin = () => ({ authorization: `Bearer ${acme.adminToken}` });
  const events = async () =>
    (
      await t.db.pool.query<{ type: string; data: Record<string, unknown> }>(
        "SELECT type, data FROM events WHERE stream_id LIKE 'blocklist-%' ORDER BY position",
      )
    ).rows;

  it('finds the listed IP with its reason and the listed domain; the unlisted and the refused query are not listed', async () => {
    const checks = await check();
    assert.deepEqual(
      checks.map((c) => [c.target, c.zone, c.state, c.changed]),
      [
        ['192.0.2.10', 'zen.test', 'listed', true],
        ['192.0.2.11', 'zen.test', 'clean', false],
        ['192.0.2.12', 'zen.test', 'unknown (not listed before)', false],
        ['acme.test', 'dbl.test', 'listed', true],
      ],
    );
    assert.equal(checks[0]!.reason, REASON);
    assert.match(String(checks[2]!.reason), /refused the query \(127\.255\.255\.254\)/);
    const recorded = await events();
    assert.deepEqual(
      recorded.map((e) => [e.type, e.data.target, e.data.codes, e.data.serverIds]),
      [
        ['IpListed', '192.0.2.10', ['127.0.0.2'], [acme.server.id]],
        ['DomainListed', 'acme.test', ['127.0.1.2'], [acme.server.id]],
      ],
    );
    // the same state again: nothing new in the log
    await check();
    assert.equal((await events()).length, 2);
    // the servers sending from them hear of it
    const heard = await eventually(
      async () => (hooks.received.length >= 2 ? hooks.received : undefined),
      () => `webhooks: ${JSON.stringify(hooks.received.map((h) => h.json.event))}`,
    );
    // webhooks of different events are sent side by side: in no particular order
    assert.deepEqual(
      heard
        .map((h) => [h.json.event, h.json.payload.target, h.json.payload.zone, h.json.payload.reason])
        .sort((a, b) => String(b[0]).localeCompare(String(a[0]))),
      [
        ['IpListed', '192.0.2.10', 'zen.test', REASON],
        ['DomainListed', 'acme.test', 'dbl.test', 'spam domain https://check.spamhaus.test/acme.test'],
      ],
    );
  });

  it('shows the listings over the API and as the metric', async () => {
    const res = await eventually(
      async () => {
        const r = await http(t.url, 'GET', '/v2/deliverability/blocklists', { headers: admin() });
        return r.body.listings?.length === 1 ? r : undefined;
      },
      () => 'the projection did not catch up',
    );
    // an organization admin sees its domains, not the operator's IPs
    assert.deepEqual(res.body.listings, [
      {
        kind: 'domain',
        target: 'acme.test',
        zone: 'dbl.test',
        listed: true,
        codes: ['127.0.1.2'],
        reason: 'spam domain https://check.spamhaus.test/acme.test',
        since: res.body.listings[0].since,
        serverIds: [acme.server.id],
      },
    ]);
    assert.deepEqual([res.body.ipZones, res.body.domainZones], [['zen.test'], ['dbl.test']]);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /postlog_dnsbl_listed\{target="192\.0\.2\.10",zone="zen\.test"\} 1/);
    assert.match(metrics, /postlog_dnsbl_listed\{target="acme\.test",zone="dbl\.test"\} 1/);
    assert.doesNotMatch(metrics, /postlog_dnsbl_listed\{target="192\.0\.2\.1[12]"/);
  });

  it('marks the listed domain on the domains page, and the server page', { skip: browserMissing() }, async () => {
    const password = 'correct horse battery';
    const user = await http(t.url, 'POST', '/v2/users', {
      headers: admin(),
      body: { email: 'ops@acme.test', password, organizationId: acme.organizationId, role: 'admin' },
    });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const browser = await launchBrowser();
    try {
      const page = await (await browser.newContext({ baseURL: t.url })).newPage();
      await page.goto('/');
      await page.getByLabel('Email').fill('ops@acme.test');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Organizations' }).waitFor();
      await page.goto(`/servers/${acme.server.id}/domains`);
      const heading = page.getByRole('heading', { name: /acme\.test/ });
      await heading.getByText('on blocklist dbl.test').waitFor();
      await page.goto(`/servers/${acme.server.id}`);
      const alert = page.getByRole('alert');
      await alert.getByText(/Sending from a blocklisted domain: acme\.test \(dbl\.test\)/).waitFor();
    } finally {
      await browser.close();
    }
  });

  it('records the delisting when the list no longer answers for the IP', async () => {
    await dns.stop();
    dns = await startDns(false);
    const checks = await check();
    assert.deepEqual(
      checks.filter((c) => c.changed).map((c) => [c.target, c.state]),
      [['192.0.2.10', 'clean']],
    );
    assert.deepEqual(
      (await events()).map((e) => e.type),
      ['IpListed', 'DomainListed', 'IpDelisted'],
    );
    await eventually(
      async () => (hooks.received.some((h) => h.json.event === 'IpDelisted') ? true : undefined),
      () => 'no IpDelisted webhook',
    );
    await eventually(
      async () => {
        const metrics = await (await fetch(`${t.url}/metrics`)).text();
        return /postlog_dnsbl_listed\{target="192\.0\.2\.10",zone="zen\.test"\} 0/.test(metrics) ? true : undefined;
      },
      () => 'the metric still says listed',
    );
  });
});
