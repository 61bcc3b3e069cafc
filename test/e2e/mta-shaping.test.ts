import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { sendV2, waitForStatus } from '../helpers/v2-messages.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';

/**
 * Provider-aware shaping and IP warm-up against real peers on loopback: dnsmasq answers MX names
 * that the rules' mxSuffixes roll up to two providers ("gmailish": two MX hosts, "msftish"), and
 * smtp-server sinks count what arrives and how many sessions are open at once. The operator's rules
 * file is rewritten while Postlog runs.
 */
const rulesFile = (rateish = '    maxConnections: 3') => `
providers:
  gmailish:
    mxSuffixes: [gmail.mx.test]
    maxConnections: 2
    messagesPerConnection: 2
    backOff:
      - { enhancedCode: 4.7.28, pauseMinutes: 0.1, rateFactor: 0.5 }
  msftish:
    mxSuffixes: [msft.mx.test]
  rateish:
    mxSuffixes: [rate.mx.test]
${rateish}
warmup:
  pools:
    warm:
      enabled: true
      overflow: other-ip
      schedule: [{ day: 1, perProvider: { '*': 2 } }, { day: 2, perProvider: { '*': 4 } }]
    waiting:
      enabled: true
      overflow: wait
      schedule: [{ day: 1, perProvider: { '*': 2 } }]
`;

interface View {
  status: string;
  attempts: number;
  deliveries: { outcome: string; localIp?: string | null; at?: string }[];
}

describe('MTA: provider-aware shaping and IP warm-up on loopback', { skip }, () => {
  let t: TestApp;
  let plain: Tenant;
  let warm: Tenant;
  let waiting: Tenant;
  let dns: DnsServer;
  let shapingFile: string;
  const sinks: Record<string, SmtpSink & { count(): number }> = {};
  // messages awaiting their answer at the gmailish sinks together (its two MX hosts share one limit): a
  // connection carries one at a time, so this is at most the connections open at once
  let gmailInFlight = 0;
  let gmailMaxInFlight = 0;

  const send = (tenant: Tenant, to: string) =>
    sendV2(t.url, tenant.apiKey, {
      from: `App <app@${tenant === plain ? 'plain' : tenant === warm ? 'warm' : 'waiting'}.test>`,
      to: [to],
      subject: 'Hi',
      text: 'Hi',
    });
  const view = async (tenant: Tenant, id: string): Promise<View> =>
    (await http(t.url, 'GET', `/v2/messages/${id}`, { headers: { 'X-Server-API-Key': tenant.apiKey } })).body;
  const waitFor = (tenant: Tenant, id: string, status = 'delivered', timeoutMs = 20_000): Promise<View> =>
    waitForStatus<View>(t.url, tenant.apiKey, id, status, timeoutMs);
  const shaping = async () => {
    const res = await http(t.url, 'GET', '/v2/shaping', { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  let adminToken = '';

  before(async () => {
    const mtaPort = await freePort();
    const dnsPort = await freeUdpPort();
    shapingFile = join(mkdtempSync(join(tmpdir(), 'postlog-shaping-')), 'shaping.yaml');
    writeFileSync(shapingFile, rulesFile());
    t = await startTestApp(
      {
        POSTLOG_MTA_PORT: String(mtaPort),
        POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
        POSTLOG_RETRY_DELAYS: '1',
        POSTLOG_MTA_POLL_MS: '50',
        POSTLOG_ROLES: 'api,mta,projector',
        POSTLOG_SHAPING_FILE: shapingFile,
      },
      [
        'ipPools:',
        // the first address is (almost) always chosen first: what reaches the second came by overflow
        '  warm:',
        '    - { address: 127.0.0.31, weight: 1000 }',
        '    - { address: 127.0.0.32, weight: 0.001 }',
        '  waiting:',
        '    - { address: 127.0.0.33, weight: 1000 }',
        '    - { address: 127.0.0.34, weight: 0.001 }',
        '',
      ].join('\n'),
    );
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    adminToken = (token as { ok: true; value: { secret: string } }).value.secret;
    plain = await createTenant(t.app, { domain: 'plain.test' });
    warm = await createTenant(t.app, { domain: 'warm.test', ipPool: 'warm' });
    waiting = await createTenant(t.app, { domain: 'waiting.test', ipPool: 'waiting' });
    const counting = {
      onDataComplete: () => {
        gmailInFlight++;
        gmailMaxInFlight = Math.max(gmailMaxInFlight, gmailInFlight);
      },
      // slow answers keep connections busy, so the limit is what keeps them few; the count drops just
      // before the answer goes (this timer is set first), so before the connection's next message
      replyDelayMs: () => {
        setTimeout(() => gmailInFlight--, 300);
        return 300;
      },
      tls: false,
    };
    sinks.gmail1 = await startSmtpSink('127.0.0.21', mtaPort, counting);
    sinks.gmail2 = await startSmtpSink('127.0.0.22', mtaPort, counting);
    sinks.msft = await startSmtpSink('127.0.0.23', mtaPort, { tls: false });
    sinks.other = await startSmtpSink('127.0.0.24', mtaPort, { tls: false });
    sinks.rate = await startSmtpSink('127.0.0.25', mtaPort, { tls: false });
    dns = await startDnsServer(
      {
        mx: [
          ['gmail.test', 'mx1.gmail.mx.test', 10],
          ['gmail2.test', 'mx2.gmail.mx.test', 10],
          ['msft.test', 'inbound.msft.mx.test', 10],
          ['other.test', 'mx.other.test', 10],
          ['rate.test', 'mx.rate.mx.test', 10],
        ],
        a: [
          ['mx1.gmail.mx.test', '127.0.0.21'],
          ['mx2.gmail.mx.test', '127.0.0.22'],
          ['inbound.msft.mx.test', '127.0.0.23'],
          ['mx.other.test', '127.0.0.24'],
          ['mx.rate.mx.test', '127.0.0.25'],
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
  });

  it("holds a provider's connection limit across its MX hosts", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) ids.push(await send(plain, `u${i}@${i % 2 ? 'gmail.test' : 'gmail2.test'}`));
    for (const id of ids) await waitFor(plain, id);
    assert.equal(sinks.gmail1!.count() + sinks.gmail2!.count(), 16);
    assert.equal(gmailMaxInFlight, 2, 'two connections at once at most, and the two were used');
    assert.ok(sinks.gmail1!.sessions() + sinks.gmail2!.sessions() >= 8, 'two messages per connection at most');
    const view = await shaping();
    const bucket = view.buckets.find((b: { bucket: string }) => b.bucket === 'provider:gmailish');
    assert.equal(bucket?.maxConnections, 2);
  });

  it('a 421 4.7.28 pauses that provider only', async () => {
    sinks.gmail1!.behaviours.set('slow@gmail.test', {
      code: 421,
      text: '4.7.28 Our system has detected an unusual rate of unsolicited mail',
    });
    const throttled = await send(plain, 'slow@gmail.test');
    await waitFor(plain, throttled, 'deferred');
    sinks.gmail1!.behaviours.delete('slow@gmail.test');
    const state = await shaping();
    const gmail = state.buckets.find((b: { bucket: string }) => b.bucket === 'provider:gmailish');
    assert.ok(gmail.pausedUntil, JSON.stringify(gmail));
    assert.match(gmail.lastBackOff.reply, /4\.7\.28/);
    assert.equal(gmail.allowed, 1, 'half the connections');
    const pausedUntil = Date.parse(gmail.pausedUntil);
    // the other MX host of the paused provider waits; another provider does not
    const sameProvider = await send(plain, 'later@gmail2.test');
    const otherProvider = await send(plain, 'now@msft.test');
    await waitFor(plain, otherProvider);
    assert.ok(Date.now() < pausedUntil, 'delivered to the other provider during the pause');
    assert.equal((await view(plain, sameProvider)).status, 'queued', 'the paused provider got nothing');
    await waitFor(plain, sameProvider, 'delivered', 20_000);
    assert.ok(Date.now() >= pausedUntil, 'after the pause');
  });

  const reload = async (text: string) => {
    const before = (await shaping()).generation as number;
    writeFileSync(shapingFile, text);
    await until('the reload', async () => ((await shaping()).generation > before ? true : undefined));
  };

  it('a reload with a lower rate takes effect without a restart', async () => {
    await reload(rulesFile('    maxConnections: 3\n    messagesPerMinute: 2'));
    const sink = sinks.rate!;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await send(plain, `r${i}@rate.test`));
    await until('two messages through', async () => (sink.count() >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(sink.count(), 2, 'two a minute: the others wait');
    assert.equal((await shaping()).rules.providers.rateish.messagesPerMinute, 2);
    // and raised again: the waiting ones go at once
    await reload(rulesFile('    maxConnections: 3\n    messagesPerMinute: 600'));
    for (const id of ids) await waitFor(plain, id, 'delivered', 5000);
  });

  it('SIGHUP reads the rules again (the process is this one: the app runs in the test)', async () => {
    const before = (await shaping()).generation as number;
    process.kill(process.pid, 'SIGHUP');
    await until('the reload', async () => ((await shaping()).generation > before ? true : undefined));
  });

  it('a bad file is refused with its line named, and the rules in force stay', async () => {
    const before = await shaping();
    const good = rulesFile('    maxConnections: 3\n    messagesPerMinute: 600');
    writeFileSync(shapingFile, `${good}\nips:\n  127.0.0.31:\n    messagesPerHour: lots\n`);
    const refused = await until('the refusal', async () => {
      const s = await shaping();
      return s.lastError ? s : undefined;
    });
    const [problem] = refused.lastError.problems;
    assert.equal(problem.file, shapingFile);
    assert.equal(problem.field, 'ips.127.0.0.31.messagesPerHour');
    assert.equal(problem.line, good.split('\n').length + 3);
    assert.equal(refused.generation, before.generation, 'not reloaded');
    assert.equal(refused.rules.providers.rateish.messagesPerMinute, 600, 'the rules in force stay');
  });

  it("warm-up: day 1's allowance holds per address and provider, and overflow goes to the pool's other address", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await send(warm, `w${i}@other.test`));
    const delivered: View[] = [];
    await until('four delivered', async () => {
      delivered.length = 0;
      for (const id of ids) {
        const v = await view(warm, id);
        if (v.status === 'delivered') delivered.push(v);
      }
      return delivered.length >= 4 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    const from = (ip: string) => sinks.other!.received.filter((m) => m.remoteAddress === ip).length;
    assert.equal(from('127.0.0.31'), 2, 'the first address: its allowance');
    assert.equal(from('127.0.0.32'), 2, 'the second: the overflow');
    const held = [];
    for (const id of ids) {
      const v = await view(warm, id);
      if (v.status !== 'delivered') held.push(v);
    }
    assert.equal(held.length, 1, 'the fifth waits for tomorrow');
    assert.deepEqual([held[0]!.status, held[0]!.attempts], ['queued', 0], 'not an attempt');
    // the address of each attempt is in its event
    for (const v of delivered) assert.ok(['127.0.0.31', '127.0.0.32'].includes(v.deliveries.at(-1)!.localIp ?? ''));
    const res = await http(t.url, 'GET', '/v2/ip-pools/warm/warmup', {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const a of res.body.addresses) {
      assert.equal(a.day, 1);
      const other = a.providers.find((p: { provider: string }) => p.provider === 'other.test');
      assert.deepEqual([other.sentToday, other.allowance], [2, 2], JSON.stringify(a));
    }
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /postlog_warmup_sent_today\{ip="127\.0\.0\.32",provider="other\.test"\} 2/);
    assert.match(metrics, /postlog_warmup_allowance\{ip="127\.0\.0\.31",provider="other\.test"\} 2/);
    const unknown = await http(t.url, 'GET', '/v2/ip-pools/nope/warmup', {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(unknown.status, 404);
  });

  it('warm-up with overflow: wait keeps mail beyond the allowance queued, not sent from another address', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await send(waiting, `x${i}@other.test`));
    await until('two delivered', async () => {
      let n = 0;
      for (const id of ids) if ((await view(waiting, id)).status === 'delivered') n++;
      return n >= 2 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    const from = (ip: string) => sinks.other!.received.filter((m) => m.remoteAddress === ip).length;
    assert.equal(from('127.0.0.33'), 2);
    assert.equal(from('127.0.0.34'), 0, 'no overflow');
    const states = await Promise.all(ids.map(async (id) => (await view(waiting, id)).status));
    assert.deepEqual(states.sort(), ['delivered', 'delivered', 'queued']);
  });
});
