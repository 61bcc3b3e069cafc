/**
 * MTA-STS (RFC 8461) against real peers on loopback: dnsmasq answers the MX and `_mta-sts` TXT
 * records, a node HTTPS server with a certificate from the test's CA serves the policies, and
 * smtp-server sinks present a CA-signed certificate for their MX name or a self-signed one.
 * Postlog trusts the CA only through POSTLOG_TLS_EXTRA_CA_FILE.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { createTestCa } from '../helpers/test-ca.js';
import { sendV2, waitForStatus } from '../helpers/v2-messages.js';

const skip = !dnsmasqAvailable()
  ? 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)'
  : process.getuid?.() !== 0
    ? 'the policy server needs port 443 (RFC 8461 fixes it), which takes root'
    : false;

/** The policy server's address: port 443 on an address of its own, so no other test's server is in the way. */
const POLICY_IP = '127.0.25.80';

const policies: Record<string, string> = {
  'mta-sts.enforce.test':
    'version: STSv1\r\nmode: enforce\r\nmx: mx1.enforce.test\r\nmx: *.enforce.test\r\nmax_age: 86400\r\n',
  'mta-sts.strict.test': 'version: STSv1\nmode: enforce\nmx: mx.strict.test\nmax_age: 86400\n',
  'mta-sts.testing.test': 'version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 86400\n',
  'mta-sts.notls.test': 'version: STSv1\nmode: enforce\nmx: mx.notls.test\nmax_age: 86400\n',
};

interface Attempt {
  type: string;
  data: {
    reason?: string;
    delivery?: {
      mxHost?: string;
      tlsPolicy?: {
        policy: string;
        source: string;
        domain: string;
        mode?: string;
        policyId?: string;
        failure?: { type: string; detail: string };
      };
    };
  };
}

describe('MTA-STS: policies from DNS and HTTPS decide where and how mail goes', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let dns: DnsServer;
  let policyServer: Server;
  const policyRequests: string[] = [];
  const sinks: Record<string, SmtpSink> = {};

  const send = (to: string) =>
    sendV2(t.url, tenant.apiKey, { from: 'app@sender.test', to: [to], subject: 'STS', text: `Hello ${to}` });
  const waitFor = async (id: string, status: string): Promise<Attempt[]> => {
    await waitForStatus(t.url, tenant.apiKey, id, status);
    return (await t.app.eventStore.readStream(`message-${id}`)) as unknown as Attempt[];
  };
  const lastAttempt = (events: Attempt[]) =>
    events.filter((e) => e.type === 'MessageDelivered' || e.type === 'MessageDeferred').at(-1)!;

  before(async () => {
    const ca = await createTestCa();
    const caFile = ca.file;
    const mtaPort = await freePort();
    const dnsPort = await freeUdpPort();
    t = await startTestApp({
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      POSTLOG_RETRY_DELAYS: '1',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_ROLES: 'api,mta,projector',
      POSTLOG_TLS_EXTRA_CA_FILE: caFile,
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    // a valid certificate, but the policy does not list this MX (and it is the most preferred)
    sinks.rogue = await startSmtpSink('127.0.25.5', mtaPort, { certificate: await ca.issue(['rogue.elsewhere.test']) });
    // listed, but its certificate is self-signed
    sinks.selfSigned = await startSmtpSink('127.0.25.10', mtaPort);
    // listed (through *.enforce.test) and valid
    sinks.good = await startSmtpSink('127.0.25.20', mtaPort, { certificate: await ca.issue(['mx2.enforce.test']) });
    sinks.testing = await startSmtpSink('127.0.25.30', mtaPort);
    sinks.plain = await startSmtpSink('127.0.25.40', mtaPort);
    sinks.noTls = await startSmtpSink('127.0.25.50', mtaPort, { tls: false });
    const policyCert = await ca.issue(Object.keys(policies));
    policyServer = createServer({ key: policyCert.key, cert: policyCert.cert }, (req, res) => {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      policyRequests.push(host);
      const policy = policies[host];
      if (req.url !== '/.well-known/mta-sts.txt' || !policy) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(policy);
    });
    await new Promise<void>((r) => policyServer.listen(443, POLICY_IP, r));
    dns = await startDnsServer(
      {
        mx: [
          ['enforce.test', 'rogue.elsewhere.test', 5],
          ['enforce.test', 'mx1.enforce.test', 10],
          ['enforce.test', 'mx2.enforce.test', 20],
          ['strict.test', 'mx.strict.test', 10],
          ['testing.test', 'mx.testing.test', 10],
          ['plain.test', 'mx.plain.test', 10],
          ['notls.test', 'mx.notls.test', 10],
        ],
        a: [
          ['rogue.elsewhere.test', '127.0.25.5'],
          ['mx1.enforce.test', '127.0.25.10'],
          ['mx2.enforce.test', '127.0.25.20'],
          ['mx.strict.test', '127.0.25.10'],
          ['mx.testing.test', '127.0.25.30'],
          ['mx.plain.test', '127.0.25.40'],
          ['mx.notls.test', '127.0.25.50'],
          ...Object.keys(policies).map((h) => [h, POLICY_IP] as [string, string]),
        ],
        txt: [
          ['_mta-sts.enforce.test', 'v=STSv1; id=20261206T1'],
          ['_mta-sts.strict.test', 'v=STSv1; id=1'],
          ['_mta-sts.testing.test', 'v=STSv1; id=abc'],
          ['_mta-sts.notls.test', 'v=STSv1; id=n1'],
        ],
        local: ['test'],
      },
      dnsPort,
    );
  });
  after(async () => {
    await t?.stop();
    await Promise.all(Object.values(sinks).map((s) => s.close()));
    await dns?.stop();
    policyServer?.closeAllConnections();
    await new Promise((r) => policyServer?.close(r));
  });

  it('enforce: skips the MX the policy does not list and the one with a self-signed certificate', async () => {
    const events = await waitFor(await send('ann@enforce.test'), 'delivered');
    const attempt = lastAttempt(events);
    assert.equal(attempt.data.delivery?.mxHost, 'mx2.enforce.test');
    assert.deepEqual(attempt.data.delivery?.tlsPolicy, {
      policy: 'mta-sts',
      source: 'dns',
      domain: 'enforce.test',
      mode: 'enforce',
      policyId: '20261206T1',
    });
    assert.equal(sinks.good!.received.length, 1);
    assert.equal(sinks.good!.received[0]!.secure, true);
    assert.equal(sinks.rogue!.received.length, 0, 'an MX outside the policy gets nothing');
    assert.equal(sinks.selfSigned!.received.length, 0, 'an MX without valid TLS gets nothing');
  });

  it('enforce: defers with the reason when no listed MX offers valid TLS', async () => {
    const events = await waitFor(await send('bob@strict.test'), 'deferred');
    const deferral = lastAttempt(events);
    assert.match(deferral.data.reason ?? '', /^MTA-STS \(enforce\): no MX host of strict\.test offered valid TLS/);
    assert.equal(deferral.data.delivery?.tlsPolicy?.mode, 'enforce');
    assert.equal(deferral.data.delivery?.tlsPolicy?.failure?.type, 'certificate-not-trusted');
    assert.equal(sinks.selfSigned!.received.length, 0);
  });

  it('enforce: defers when the listed MX does not offer STARTTLS', async () => {
    const events = await waitFor(await send('fay@notls.test'), 'deferred');
    const deferral = lastAttempt(events);
    assert.match(deferral.data.reason ?? '', /^MTA-STS \(enforce\)/);
    assert.equal(deferral.data.delivery?.tlsPolicy?.failure?.type, 'starttls-not-supported');
    assert.equal(sinks.noTls!.received.length, 0, 'nothing in plain text');
  });

  it('testing: delivers over the self-signed TLS and records what failed', async () => {
    const events = await waitFor(await send('cat@testing.test'), 'delivered');
    const policy = lastAttempt(events).data.delivery?.tlsPolicy;
    assert.equal(policy?.policy, 'mta-sts');
    assert.equal(policy?.mode, 'testing');
    assert.equal(policy?.failure?.type, 'certificate-not-trusted');
    assert.equal(sinks.testing!.received.length, 1);
  });

  it('without a policy: opportunistic, as the MTA default says', async () => {
    const events = await waitFor(await send('dan@plain.test'), 'delivered');
    assert.deepEqual(lastAttempt(events).data.delivery?.tlsPolicy, {
      policy: 'opportunistic',
      source: 'default',
      domain: 'plain.test',
    });
  });

  it('counts TLS successes and failures per policy domain and day for TLS-RPT (GET /v2/tls-reports)', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const deadline = Date.now() + 15_000;
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    const counts = async (domain: string, bearer = token.value.secret) => {
      const res = await http(t.url, 'GET', `/v2/tls-reports?domain=${domain}&day=${day}`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.counts as {
        policyType: string;
        mode: string;
        successes: number;
        failures: number;
        failureTypes: Record<string, number>;
      }[];
    };
    const orgOnly = await http(t.url, 'GET', `/v2/tls-reports?domain=plain.test&day=${day}`, {
      headers: { authorization: `Bearer ${tenant.adminToken}` },
    });
    assert.equal(orgOnly.status, 403, "an organization's admin does not see every tenant's recipient domains");
    while ((await counts('plain.test')).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await counts('enforce.test'), [
      {
        policyDomain: 'enforce.test',
        day,
        policyType: 'sts',
        policyId: '20261206T1',
        mode: 'enforce',
        successes: 1,
        failures: 0,
        failureTypes: {},
      },
    ]);
    const [testing] = await counts('testing.test');
    assert.deepEqual(
      [testing?.policyType, testing?.mode, testing?.successes, testing?.failures, testing?.failureTypes],
      ['sts', 'testing', 0, 1, { 'certificate-not-trusted': 1 }],
    );
    // strict.test is retried every second: at least one failed attempt so far, all of one kind
    const [strict] = await counts('strict.test');
    assert.ok((strict?.failures ?? 0) >= 1);
    assert.deepEqual(Object.keys(strict?.failureTypes ?? {}), ['certificate-not-trusted']);
    assert.equal(strict?.successes, 0);
    assert.deepEqual(
      (await counts('plain.test')).map((c) => [c.policyType, c.successes, c.failures]),
      [['no-policy-found', 1, 0]],
    );
  });

  it('keeps enforcing the cached policy while the policy server is down', async () => {
    const fetched = policyRequests.filter((h) => h === 'mta-sts.enforce.test').length;
    assert.equal(fetched, 1, 'fetched once');
    policyServer.closeAllConnections();
    await new Promise((r) => policyServer.close(r));
    const events = await waitFor(await send('eve@enforce.test'), 'delivered');
    assert.equal(lastAttempt(events).data.delivery?.mxHost, 'mx2.enforce.test');
    assert.equal(lastAttempt(events).data.delivery?.tlsPolicy?.mode, 'enforce');
    assert.equal(sinks.rogue!.received.length, 0);
  });
});
