/**
 * The MTA-STS policy cache survives a restart (RFC 8461 §5.1): a policy fetched before is read
 * from PostgreSQL at start and still enforced when its server is down after the restart. Real
 * peers on loopback: dnsmasq, a node HTTPS policy server with the test CA's certificate, and
 * smtp-server sinks — the preferred MX is not in the policy, so forgetting it would send mail there.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startPostlog, type RunningPostlog } from '../../app/postlog.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { testLogger } from '../helpers/database.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { createTestCa } from '../helpers/test-ca.js';

const skip = !dnsmasqAvailable()
  ? 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)'
  : process.getuid?.() !== 0
    ? 'the policy server needs port 443 (RFC 8461 fixes it), which takes root'
    : false;

const POLICY_IP = '127.0.28.80';

interface Attempt {
  type: string;
  data: { delivery?: { mxHost?: string; tlsPolicy?: { policy: string; mode?: string; policyId?: string } } };
}

describe('MTA-STS: a cached policy outlives a restart', { skip }, () => {
  let t: TestApp;
  let app: RunningPostlog;
  let tenant: Tenant;
  let dns: DnsServer;
  let policyServer: Server;
  let policyRequests = 0;
  const sinks: Record<string, SmtpSink> = {};

  const deliveredVia = async (to: string): Promise<Attempt> => {
    const res = await http(app.httpUrl, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to: [to], subject: 'STS', text: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.messages[0].id as string;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const events = (await app.eventStore.readStream(`message-${id}`)) as unknown as Attempt[];
      const done = events.find((e) => e.type === 'MessageDelivered');
      if (done) return done;
      if (Date.now() > deadline) throw new Error(`message ${id}: ${events.map((e) => e.type).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    const ca = await createTestCa();
    const caFile = ca.file;
    const mtaPort = await freePort();
    const dnsPort = await freeUdpPort();
    // preferred, valid certificate, but not in the policy: only a forgotten policy sends mail here
    sinks.unlisted = await startSmtpSink('127.0.28.5', mtaPort, { certificate: await ca.issue(['mx0.kept.test']) });
    sinks.listed = await startSmtpSink('127.0.28.10', mtaPort, { certificate: await ca.issue(['mx1.kept.test']) });
    const policyCert = await ca.issue(['mta-sts.kept.test']);
    policyServer = createServer({ key: policyCert.key, cert: policyCert.cert }, (_req, res) => {
      policyRequests++;
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('version: STSv1\nmode: enforce\nmx: mx1.kept.test\nmax_age: 86400\n');
    });
    await new Promise<void>((r) => policyServer.listen(443, POLICY_IP, r));
    dns = await startDnsServer(
      {
        mx: [
          ['kept.test', 'mx0.kept.test', 5],
          ['kept.test', 'mx1.kept.test', 10],
        ],
        a: [
          ['mx0.kept.test', '127.0.28.5'],
          ['mx1.kept.test', '127.0.28.10'],
          ['mta-sts.kept.test', POLICY_IP],
        ],
        txt: [['_mta-sts.kept.test', 'v=STSv1; id=k1']],
        local: ['test'],
      },
      dnsPort,
    );
    t = await startTestApp({
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      POSTLOG_RETRY_DELAYS: '1',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_ROLES: 'api,mta,projector',
      POSTLOG_TLS_EXTRA_CA_FILE: caFile,
    });
    app = t.app;
    tenant = await createTenant(app, { domain: 'sender.test' });
  });
  after(async () => {
    await app?.stop();
    await t?.db.drop();
    await Promise.all(Object.values(sinks).map((s) => s.close()));
    await dns?.stop();
    policyServer?.closeAllConnections();
    await new Promise((r) => policyServer?.close(r));
  });

  it('enforces the policy fetched before the restart while its server is down after it', async () => {
    const before = await deliveredVia('ann@kept.test');
    assert.equal(before.data.delivery?.mxHost, 'mx1.kept.test');
    assert.equal(policyRequests, 1);
    const kept = await t.db.pool.query('SELECT domain, policy_id FROM mta_sts_policies');
    assert.deepEqual(kept.rows, [{ domain: 'kept.test', policy_id: 'k1' }]);

    // the policy server goes away, and Postlog restarts on the same database
    policyServer.closeAllConnections();
    await new Promise((r) => policyServer.close(r));
    const config = app.config;
    await app.stop();
    app = await startPostlog(config, testLogger);

    const afterRestart = await deliveredVia('bob@kept.test');
    assert.equal(afterRestart.data.delivery?.mxHost, 'mx1.kept.test', 'the unlisted MX still gets nothing');
    assert.deepEqual(afterRestart.data.delivery?.tlsPolicy, {
      policy: 'mta-sts',
      source: 'dns',
      domain: 'kept.test',
      mode: 'enforce',
      policyId: 'k1',
    });
    assert.equal(sinks.unlisted!.received.length, 0);
    assert.equal(sinks.listed!.received.length, 2);
  });
});
