import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/eventually.js';
import { cliPath } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed';

describe('an MTA process killed mid-batch', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let dns: DnsServer;
  let sink: SmtpSink & { count: () => number };
  let mtaEnv: Record<string, string>;
  const children: ChildProcess[] = [];
  let completed = 0;
  let onComplete: (() => void) | undefined;

  const startMta = async () => {
    const child = spawn(process.execPath, [cliPath, 'start'], {
      env: { ...mtaEnv, POSTLOG_HTTP_PORT: String(await freePort()) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    return child;
  };

  before(async () => {
    const mtaPort = await freePort();
    const dnsPort = await freeUdpPort();
    // the API and the projector here; the MTA runs as separate processes we can kill
    t = await startTestApp({ POSTLOG_ROLES: 'api,projector' });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    sink = await startSmtpSink('127.0.0.2', mtaPort, {
      tls: false,
      // a slow server: the kill lands while it thinks, long after the previous outcome was recorded
      replyDelayMs: 400,
      onDataComplete: () => {
        completed++;
        onComplete?.();
      },
    });
    dns = await startDnsServer(
      { mx: [['crash.test', 'mx.crash.test', 10]], a: [['mx.crash.test', '127.0.0.2']], local: ['test'] },
      dnsPort,
    );
    mtaEnv = {
      ...(process.env as Record<string, string>),
      POSTLOG_DATABASE_URL: t.db.url,
      POSTLOG_ROLES: 'mta',
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_MTA_LEASE_SECONDS: '5',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_MTA_MAX_CONNECTIONS_PER_DESTINATION: '2',
      POSTLOG_HOSTNAME: 'mta.test',
      POSTLOG_LOG_LEVEL: 'warn',
      POSTLOG_LOG_FORMAT: 'json',
    };
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await t?.stop();
    await sink?.close();
    await dns?.stop();
  });

  /** Waits until the API shows every message delivered. */
  const allDelivered = async (ids: string[], timeoutMs: number) => {
    let statuses: string[] = [];
    await eventually(
      async () => {
        statuses = await Promise.all(
          ids.map(
            async (id) =>
              (await http(t.url, 'GET', `/v2/messages/${id}`, { headers: { 'X-Server-API-Key': tenant.apiKey } })).body
                .status as string,
          ),
        );
        return statuses.every((s) => s === 'delivered') || undefined;
      },
      () => `not all delivered: ${statuses.join(',')}`,
      { timeoutMs },
    );
  };

  it('loses nothing and delivers nothing twice: another worker takes over after the lease', async () => {
    const to = Array.from({ length: 20 }, (_, i) => `r${i}@crash.test`);
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to, subject: 'crash', text: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(res.status, 202);
    const ids = (res.body.messages as { id: string }[]).map((m) => m.id);

    const first = await startMta();
    // kill it while the server is in the middle of its 6th answer
    await new Promise<void>((resolve) => (onComplete = () => completed >= 6 && resolve()));
    onComplete = undefined;
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const receivedAtKill = sink.count();
    assert.ok(receivedAtKill < 20, 'the kill came before the end');

    await startMta();
    await allDelivered(ids, 40_000);
    const got = sink.received.flatMap((m) => m.to).sort();
    assert.deepEqual(got, [...to].sort(), 'every recipient exactly once');
    for (const id of ids) {
      const history = (
        await http(t.url, 'GET', `/v2/messages/${id}/history`, { headers: { 'X-Server-API-Key': tenant.apiKey } })
      ).body;
      assert.equal(history.events.filter((e: { type: string }) => e.type === 'MessageDelivered').length, 1);
    }
  });

  it('sends a message once even when it waits in the worker longer than its lease', async () => {
    // 30 messages, 2 connections, 400 ms per answer: the last ones wait ~6 s, past the 5 s lease
    const before = sink.received.length;
    const to = Array.from({ length: 30 }, (_, i) => `slow${i}@crash.test`);
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to, subject: 'slow', text: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    const ids = (res.body.messages as { id: string }[]).map((m) => m.id);
    await allDelivered(ids, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const got = sink.received
      .slice(before)
      .flatMap((m) => m.to)
      .sort();
    assert.deepEqual(got, [...to].sort());
  });
});
