/**
 * A scanner that is down or hung does not lose inbound mail. clamd on a port that refuses
 * connections, and on a server that takes the connection and never answers (with a short
 * POSTLOG_SCAN_TIMEOUT_SECONDS), through the real inbound MX: fail-open (the default) accepts the
 * message and records it not scanned (IncomingScanned with the failure); tempfail answers 451 4.7.1
 * so the sending server keeps it and retries, and records nothing. Each way the failure is counted
 * in GET /metrics and logged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js';

async function deliverInbound(port: number, to: string, subject: string) {
  const c = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, logger: false });
  await new Promise<void>((res, rej) => {
    c.once('error', rej);
    c.connect(() => res());
  });
  const raw = `From: someone@example.org\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nSee you at noon.\r\n`;
  try {
    return await new Promise<{ code: number; response: string }>((resolve) =>
      c.send({ from: 'someone@example.org', to: [to] }, raw, (err, info) => {
        const e = err as (Error & { responseCode?: number; response?: string }) | null;
        resolve(
          e ? { code: e.responseCode ?? 0, response: e.response ?? e.message } : { code: 250, response: info.response },
        );
      }),
    );
  } finally {
    c.quit();
  }
}

const eventCount = async (t: TestApp) =>
  (await t.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n as number;

describe('inbound scanning with clamd down or hung: no mail lost', () => {
  let dns: DnsServer;
  let closedPort: number;
  let silent: SilentServer;
  const apps: TestApp[] = [];
  before(async () => {
    [dns, closedPort, silent] = await Promise.all([
      startDnsServer({ local: ['example.org'] }),
      freePort(),
      startSilentServer(),
    ]);
  });
  after(async () => {
    for (const a of apps) await a.stop();
    await silent?.stop();
    await dns?.stop();
  });

  async function mx(clamdPort: number, policy: 'accept' | 'tempfail', logs: CapturedLogs) {
    const inboundPort = await freePort();
    const t = await startTestApp(
      {
        POSTLOG_ROLES: 'api,projector,inbound',
        POSTLOG_INBOUND_PORT: String(inboundPort),
        POSTLOG_DATA_DIR: tempDataDir('postlog-inbound-scanfail-'),
        POSTLOG_DNS_SERVERS: `127.0.0.1:${dns.port}`,
        POSTLOG_CLAMD_HOST: '127.0.0.1',
        POSTLOG_CLAMD_PORT: String(clamdPort),
        POSTLOG_SCAN_TIMEOUT_SECONDS: '0.5',
        POSTLOG_SCAN_FAILURE: policy,
      },
      '',
      logs.logger,
    );
    apps.push(t);
    const tenant = await createTenant(t.app, { domain: 'sender.test' });
    const route = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/routes`, {
      body: { address: 'archive@sender.test', mode: 'accept' },
      headers: { authorization: `Bearer ${tenant.adminToken}` },
    });
    assert.equal(route.status, 201, JSON.stringify(route.body));
    return { t, tenant, inboundPort };
  }

  async function history(t: TestApp, tenant: Tenant) {
    const admin = { authorization: `Bearer ${tenant.adminToken}` };
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await http(
        t.url,
        'GET',
        `/v2/messages?serverId=${tenant.server.id}&direction=incoming&recipient=archive@sender.test`,
        { headers: admin },
      );
      const found = list.body.messages?.[0];
      if (found) {
        const h = await http(t.url, 'GET', `/v2/messages/${found.id}/history`, { headers: admin });
        return { listed: found, events: h.body.events as { type: string; data: Record<string, any> }[] };
      }
      if (Date.now() > deadline) assert.fail('no incoming message');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const failureCount = async (t: TestApp, reason: string) => {
    const metrics = await http(t.url, 'GET', '/metrics');
    const line = new RegExp(`^postlog_scanner_failures_total\\{scanner="clamav",reason="${reason}"\\} (\\d+)$`, 'm');
    return Number(line.exec(metrics.body)?.[1] ?? 0);
  };

  const scenarios = [
    {
      scanner: 'down (connection refused)',
      port: () => closedPort,
      reason: 'unreachable',
      code: 'SCANNER_UNREACHABLE',
    },
    { scanner: 'hung (never answers)', port: () => silent.port, reason: 'timeout', code: 'SCANNER_TIMEOUT' },
  ];
  for (const s of scenarios) {
    it(`clamd ${s.scanner}, fail-open (the default): 250, stored, marked not scanned, counted, logged`, async () => {
      const logs = captureLogs('warn');
      const { t, tenant, inboundPort } = await mx(s.port(), 'accept', logs);
      const started = Date.now();
      const answer = await deliverInbound(inboundPort, 'archive@sender.test', 'Unscanned');
      assert.equal(answer.code, 250, answer.response);
      assert.ok(Date.now() - started < 10_000, 'the scan ended at its timeout');
      const { listed, events } = await history(t, tenant);
      assert.equal(listed.status, 'stored');
      assert.deepEqual(
        events.map((e) => e.type),
        ['IncomingReceived', 'IncomingScanned', 'IncomingStored'],
      );
      assert.deepEqual(events[1]!.data.scanners, ['clamav']);
      assert.equal(events[1]!.data.spamStatus, 'NotChecked');
      assert.deepEqual(events[1]!.data.failures, [`clamav: ${s.code}`]);
      assert.equal(await failureCount(t, s.reason), 1);
      const warnings = await logs.find('scanner gave no verdict');
      assert.equal(warnings.length, 1, JSON.stringify(logs.lines));
      assert.deepEqual([warnings[0]!.scanner, warnings[0]!.code], ['clamav', s.code]);
    });

    it(`clamd ${s.scanner}, tempfail: 451 4.7.1 (the sender retries), nothing recorded, counted, logged`, async () => {
      const logs = captureLogs('warn');
      const { t, inboundPort } = await mx(s.port(), 'tempfail', logs);
      const before = await eventCount(t);
      for (const attempt of [1, 2]) {
        const answer = await deliverInbound(inboundPort, 'archive@sender.test', `Deferred ${attempt}`);
        assert.equal(answer.code, 451, answer.response);
        assert.match(answer.response, /^451 4\.7\.1 The virus scan could not be made, try again later/);
      }
      assert.equal(await eventCount(t), before, 'nothing stored: the sending server keeps the mail');
      assert.equal(await failureCount(t, s.reason), 2);
      assert.equal((await logs.find('scanner gave no verdict')).length, 2);
      const deferred = await logs.find('inbound message deferred: no scanner verdict');
      assert.equal(deferred.length, 2, JSON.stringify(logs.lines));
      assert.deepEqual(deferred[0]!.rcpt, ['archive@sender.test']);
    });
  }
});
