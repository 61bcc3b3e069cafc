import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import {
  runCli,
  startPostlogProcess,
  stopLeftoverPostlogProcesses,
  type PostlogProcess,
} from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed';

describe('roles on separate processes sharing one PostgreSQL', { skip }, () => {
  let db: TestDatabase;
  let dns: DnsServer;
  let sink: SmtpSink;
  let env: Record<string, string>;
  let apiUrl: string;

  const start = async (name: string, roles: string, extra: Record<string, string> = {}): Promise<PostlogProcess> => {
    const port = await freePort();
    const proc = await startPostlogProcess({
      ...env,
      POSTLOG_ROLES: roles,
      POSTLOG_HTTP_PORT: String(port),
      POSTLOG_HOSTNAME: `${name}.postlog.test`,
      ...extra,
    });
    if (roles.includes('api')) apiUrl = proc.url;
    return proc;
  };

  before(async () => {
    db = await createTestDatabase();
    const mtaPort = await freePort();
    const dnsPort = await freeUdpPort();
    sink = await startSmtpSink('127.0.0.13', mtaPort, { tls: false, replyDelayMs: 50 });
    dns = await startDnsServer(
      { mx: [['shared.test', 'mx.shared.test', 10]], a: [['mx.shared.test', '127.0.0.13']], local: ['test'] },
      dnsPort,
    );
    env = {
      ...(process.env as Record<string, string>),
      POSTLOG_DATABASE_URL: db.url,
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_MTA_LEASE_SECONDS: '5',
      POSTLOG_MTA_MAX_CONNECTIONS_PER_DESTINATION: '2',
      // each worker holds at most 8 messages, so a batch of 40 cannot all go to the first one that polls
      POSTLOG_MTA_MAX_IN_FLIGHT: '8',
      POSTLOG_LOG_LEVEL: 'info',
      POSTLOG_LOG_FORMAT: 'json',
    };
  });
  after(async () => {
    await stopLeftoverPostlogProcesses();
    await sink?.close();
    await dns?.stop();
    await db?.drop();
  });

  it('two MTA processes share the queue without sending anything twice; projections run once and move when their process dies', async () => {
    await start('api', 'api,smtp', {
      POSTLOG_SUBMISSION_PORT: String(await freePort()),
      POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
    });
    const b = await start('mta-b', 'mta,projector');
    const c = await start('mta-c', 'mta,projector');
    const init = JSON.parse((await runCli(['init', '--json'], env)).stdout) as { serverId: string; apiKey: string };
    assert.equal(
      (await runCli(['domain', 'add', 'sender.test', '--server', init.serverId, '--verified', '--json'], env)).code,
      0,
    );

    const send = async (prefix: string, n: number) => {
      const to = Array.from({ length: n }, (_, i) => `${prefix}${i}@shared.test`);
      const res = await fetch(`${apiUrl}/v2/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
        body: JSON.stringify({ from: 'app@sender.test', to, subject: prefix, text: 'x' }),
      });
      assert.equal(res.status, 202);
      return to;
    };
    const waitForSink = (to: string[]) =>
      eventually(
        async () => to.every((a) => sink.received.some((m) => m.to.includes(a))) || undefined,
        () => `not all delivered: ${to.filter((a) => !sink.received.some((m) => m.to.includes(a))).join(',')}`,
        { timeoutMs: 60_000, intervalMs: 100 },
      );

    const first = await send('a', 40);
    await waitForSink(first);
    await new Promise((r) => setTimeout(r, 500));
    const counts = new Map<string, number>();
    for (const m of sink.received) for (const r of m.to) counts.set(r, (counts.get(r) ?? 0) + 1);
    assert.deepEqual(
      [...counts.values()].filter((n) => n > 1),
      [],
      'nothing twice',
    );
    const { rows } = await db.pool.query(
      `SELECT metadata->>'actor' AS actor, count(*)::int AS n FROM events WHERE type = 'MessageDelivered' GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(
      rows.map((r) => r.actor),
      ['mta:mta-b.postlog.test', 'mta:mta-c.postlog.test'],
      'both workers delivered some',
    );

    // each projection is led by exactly one of the two processes
    const leads = (p: PostlogProcess) =>
      (p.output().match(/"projection":"message-read-models"[^\n]*"msg":"leading projection"/g) ?? []).length;
    assert.equal(leads(b) + leads(c), 1);
    const leader = leads(b) ? b : c;
    const standby = leader === b ? c : b;
    leader.child.kill('SIGKILL');
    await leader.exited;

    const second = await send('b', 10);
    await waitForSink(second);
    let followed = 0;
    await eventually(
      async () => {
        const { rows: rm } = await db.pool.query(
          `SELECT count(*)::int AS n FROM rm_messages WHERE subject = 'b' AND status = 'delivered'`,
        );
        followed = rm[0].n;
        return followed === 10 || undefined;
      },
      () => `the read model did not follow after the leader died (${followed}/10): ${standby.output().slice(-2000)}`,
    );
    assert.equal(leads(standby), 1, 'the standby took over');
  });
});
