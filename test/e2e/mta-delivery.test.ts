import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { postfixAvailable, startPostfix, type PostfixInstance } from '../helpers/postfix.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';

interface View {
  status: string;
  attempts: number;
  bounce: { classification: string; enhancedCode: string | null } | null;
  heldReason: string | null;
  deliveries: {
    outcome: string;
    mxHost: string | null;
    tls: { protocol: string } | null;
    smtpCode: number | null;
    smtpText: string | null;
    remoteIp: string | null;
    localIp?: string | null;
  }[];
}

describe('MTA: delivery to real DNS and SMTP servers on loopback', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let pooled: Tenant;
  let dns: DnsServer;
  const sinks: Record<string, SmtpSink> = {};
  let dnsPort: number;
  let postfix: PostfixInstance | undefined;

  const send = async (to: string, subject = 'Hello') => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'App <app@sender.test>', to: [to], subject, text: `Hello ${to}`, html: '<p>Hello</p>' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.messages[0].id as string;
  };
  const view = async (id: string, key = tenant.apiKey): Promise<View> =>
    (await http(t.url, 'GET', `/v2/messages/${id}`, { headers: { 'X-Server-API-Key': key } })).body;
  const waitFor = async (id: string, statuses: string[], timeoutMs = 15_000, key = tenant.apiKey): Promise<View> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await view(id, key);
      if (statuses.includes(v.status)) return v;
      if (Date.now() > deadline)
        throw new Error(`message ${id} is ${v.status}, expected ${statuses.join('|')}: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    const mtaPort = await freePort();
    dnsPort = await freeUdpPort();
    t = await startTestApp(
      {
        POSTLOG_MTA_PORT: String(mtaPort),
        POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
        POSTLOG_RETRY_DELAYS: '1',
        POSTLOG_MTA_POLL_MS: '50',
        POSTLOG_ROLES: 'api,mta,projector',
      },
      'ipPools:\n  outbound:\n    - { address: 127.0.0.10, ehlo: out1.postlog.test }\n',
    );
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    pooled = await createTenant(t.app, { domain: 'pooled.test', ipPool: 'outbound', ed25519: true });
    const dkim = [];
    for (const tn of [tenant, pooled]) {
      const domain = (await t.app.tenancy.listDomains(systemActor('test'), tn.server.id)) as {
        ok: true;
        value: { dnsRecords: { purpose: string; name: string; value: string }[] }[];
      };
      dkim.push(...domain.value[0]!.dnsRecords.filter((r) => r.purpose === 'dkim'));
    }
    sinks.good = await startSmtpSink('127.0.0.2', mtaPort);
    sinks.second = await startSmtpSink('127.0.0.3', mtaPort, { tls: false });
    sinks.picky = await startSmtpSink('127.0.0.4', mtaPort);
    if (postfixAvailable()) {
      postfix = startPostfix({
        host: '127.0.0.5',
        port: mtaPort,
        receive: {
          domain: 'pf.test',
          users: ['alice'],
          tempfail: { 'busy@pf.test': '450 4.2.1 Mailbox busy, come back later' },
        },
      });
    }
    dns = await startDnsServer(
      {
        mx: [
          ['good.test', 'mx.good.test', 10],
          ['fallback.test', 'mx1.fallback.test', 10],
          ['fallback.test', 'mx2.fallback.test', 20],
          ['picky.test', 'mx.picky.test', 10],
          ['pf.test', 'mx.pf.test', 10],
        ],
        a: [
          ['mx.good.test', '127.0.0.2'],
          ['mx1.fallback.test', '127.0.0.9'], // nothing listens there
          ['mx2.fallback.test', '127.0.0.3'],
          ['implicit.test', '127.0.0.3'],
          ['mx.picky.test', '127.0.0.4'],
          ['mx.pf.test', '127.0.0.5'],
        ],
        txt: dkim.map((r) => [r.name, r.value] as [string, string]),
        local: ['test'],
        nullMx: ['nullmx.test'],
        nxdomain: ['nx.test'],
        servfail: ['broken.test'],
      },
      dnsPort,
    );
  });
  after(async () => {
    await t?.stop();
    await Promise.all(Object.values(sinks).map((s) => s.close()));
    await dns?.stop();
    postfix?.stop();
  });

  it('delivers over STARTTLS with a DKIM signature an independent verifier accepts, and a VERP return path', async () => {
    const id = await send('alice@good.test', 'Signed');
    const v = await waitFor(id, ['delivered']);
    const mail = sinks.good!.received.find((m) => m.to.includes('alice@good.test'));
    assert.ok(mail, 'the sink received it');
    assert.match(mail.from, new RegExp(`^b-${id}-[A-Za-z0-9]{16}@psrp\\.sender\\.test$`));
    assert.equal(mail.secure, true, 'STARTTLS was used');
    const text = mail.raw.toString();
    assert.match(text, /^DKIM-Signature: /m);
    assert.match(text, /^Received: by postlog\.test \(Postlog\)/m);
    assert.match(text, /^Subject: Signed\r$/m);
    const resolver = new Resolver();
    resolver.setServers([dns.address]);
    const verdict = await dkimVerify(mail.raw, {
      resolver: async (name: string, rr: string) =>
        rr === 'TXT'
          ? resolver.resolveTxt(name)
          : Promise.reject(Object.assign(new Error('no'), { code: 'ENOTFOUND' })),
    } as never);
    const results = (verdict as { results: { status: { result: string }; signingDomain: string }[] }).results;
    assert.equal(results.length, 1);
    assert.equal(results[0]!.status.result, 'pass', JSON.stringify(results[0]));
    assert.equal(results[0]!.signingDomain, 'sender.test');
    const d = v.deliveries[0]!;
    assert.equal(d.outcome, 'delivered');
    assert.equal(d.mxHost, 'mx.good.test');
    assert.equal(d.smtpCode, 250);
    assert.equal(d.remoteIp, '127.0.0.2');
    assert.match(d.tls?.protocol ?? '', /^TLSv1\.[23]$/);
  });

  it('carries several messages to one destination over one connection', async () => {
    const before = sinks.good!.sessions();
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: {
        from: 'app@sender.test',
        to: ['b1@good.test', 'b2@good.test', 'b3@good.test', 'b4@good.test', 'b5@good.test'],
        subject: 'Batch',
        text: 'x',
      },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    for (const m of res.body.messages as { id: string }[]) await waitFor(m.id, ['delivered']);
    assert.ok(sinks.good!.sessions() - before < 5, `${sinks.good!.sessions() - before} connections for 5 messages`);
  });

  it('falls back to the next MX, and uses the domain itself when it has no MX', async () => {
    const viaFallback = await waitFor(await send('bob@fallback.test'), ['delivered']);
    assert.equal(viaFallback.deliveries.at(-1)!.mxHost, 'mx2.fallback.test');
    assert.equal(viaFallback.deliveries.at(-1)!.tls, null, 'no STARTTLS offered: plain text');
    const implicit = await waitFor(await send('carol@implicit.test'), ['delivered']);
    assert.equal(implicit.deliveries.at(-1)!.remoteIp, '127.0.0.3');
    assert.ok(sinks.second!.received.some((m) => m.to.includes('carol@implicit.test')));
  });

  it('bounces at once for a null MX and a domain that does not exist; defers on SERVFAIL', async () => {
    const nullMx = await waitFor(await send('x@nullmx.test'), ['bounced']);
    assert.deepEqual([nullMx.bounce?.classification, nullMx.bounce?.enhancedCode], ['dns', '5.1.10']);
    const nx = await waitFor(await send('x@nx.test'), ['bounced']);
    assert.equal(nx.bounce?.classification, 'dns');
    const broken = await waitFor(await send('x@broken.test'), ['deferred'], 20_000);
    assert.equal(broken.attempts, 1);
  });

  it('turns 550s into classified hard bounces; a bad mailbox is suppressed, a policy block is not', async () => {
    sinks.picky!.behaviours.set('nobody@picky.test', {
      code: 550,
      text: '5.1.1 <nobody@picky.test>: Recipient address rejected: User unknown',
    });
    sinks.picky!.behaviours.set('blocked@picky.test', { code: 550, text: '5.7.1 Message rejected by policy' });
    const unknown = await waitFor(await send('nobody@picky.test'), ['bounced']);
    assert.deepEqual([unknown.bounce?.classification, unknown.bounce?.enhancedCode], ['bad-mailbox', '5.1.1']);
    const policy = await waitFor(await send('blocked@picky.test'), ['bounced']);
    assert.equal(policy.bounce?.classification, 'policy');
    const { rows } = await t.db.pool.query('SELECT address FROM suppressions WHERE server_id = $1 ORDER BY address', [
      tenant.server.id,
    ]);
    assert.deepEqual(
      rows.map((r) => r.address),
      ['nobody@picky.test'],
    );
    const again = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to: ['nobody@picky.test'], subject: 'again', text: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(again.body.messages[0].status, 'held', 'a suppressed recipient is held, not sent');
  });

  it('retries temporary failures (450, a connection dropped mid-DATA) and then delivers', async () => {
    sinks.picky!.behaviours.set('later@picky.test', { code: 450, text: '4.2.1 Mailbox busy, try again later' });
    sinks.picky!.behaviours.set('drop@picky.test', 'drop-during-data');
    const later = await send('later@picky.test');
    const drop = await send('drop@picky.test');
    const deferred = await waitFor(later, ['deferred']);
    assert.equal(deferred.deliveries[0]!.smtpCode, 450);
    await waitFor(drop, ['deferred']);
    sinks.picky!.behaviours.set('later@picky.test', 'accept');
    sinks.picky!.behaviours.set('drop@picky.test', 'accept');
    const delivered = await waitFor(later, ['delivered'], 20_000);
    assert.deepEqual(delivered.deliveries.map((d) => d.outcome).slice(-2), ['deferred', 'delivered']);
    await waitFor(drop, ['delivered'], 20_000);
    assert.equal(sinks.picky!.received.filter((m) => m.to.includes('drop@picky.test')).length, 1, 'delivered once');
  });

  it('delivers to a real Postfix: known users get the mail, unknown ones bounce 5.1.1, a 450 is retried', async (tctx) => {
    if (!postfix) return tctx.skip("Postfix needs root and Debian's postfix package (.ci/run installs it)");
    const known = await waitFor(await send('alice@pf.test', 'To Postfix'), ['delivered'], 20_000);
    assert.equal(known.deliveries.at(-1)!.mxHost, 'mx.pf.test');
    const deadline = Date.now() + 10_000;
    while (postfix.delivered('alice').length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const stored = postfix.delivered('alice');
    assert.equal(stored.length, 1, postfix.log());
    assert.match(stored[0]!, /^DKIM-Signature: /m);
    assert.match(stored[0]!, /^Subject: To Postfix$/m);
    const unknown = await waitFor(await send('nobody@pf.test'), ['bounced']);
    assert.deepEqual([unknown.bounce?.classification, unknown.bounce?.enhancedCode], ['bad-mailbox', '5.1.1']);
    const busy = await waitFor(await send('busy@pf.test'), ['deferred']);
    assert.equal(busy.deliveries[0]!.smtpCode, 450);
    assert.match(busy.deliveries[0]!.smtpText ?? '', /Mailbox busy/);
  });

  it("sends a server's mail from its IP pool, with the pool address's EHLO name, dual-signed RSA + Ed25519", async () => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'news@pooled.test', to: ['pool@good.test'], subject: 'From the pool', text: 'x' },
      headers: { 'X-Server-API-Key': pooled.apiKey },
    });
    const v = await waitFor(res.body.messages[0].id, ['delivered'], 15_000, pooled.apiKey);
    const mail = sinks.good!.received.find((m) => m.to.includes('pool@good.test'))!;
    assert.equal(mail.remoteAddress, '127.0.0.10');
    assert.equal(mail.ehlo, 'out1.postlog.test');
    assert.equal(v.deliveries.at(-1)!.localIp ?? '', '127.0.0.10');
    const resolver = new Resolver();
    resolver.setServers([dns.address]);
    const verdict = await dkimVerify(mail.raw, {
      resolver: async (name: string, rr: string) =>
        rr === 'TXT'
          ? resolver.resolveTxt(name)
          : Promise.reject(Object.assign(new Error('no'), { code: 'ENOTFOUND' })),
    } as never);
    const results = (verdict as unknown as { results: { status: { result: string }; algo: string }[] }).results;
    assert.deepEqual(results.map((r) => [r.algo, r.status.result]).sort(), [
      ['ed25519-sha256', 'pass'],
      ['rsa-sha256', 'pass'],
    ]);
  });
});
