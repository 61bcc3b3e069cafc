import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { GTUBE } from '../contract/message-scanner.contract.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { clamdSkipReason, EICAR, startClamd } from '../helpers/clamd.js';
import type { DaemonProcess } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/ports.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { spamdSkipReason, startSpamd } from '../helpers/spamd.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

async function deliverInbound(port: number, to: string, raw: string) {
  const c = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, logger: false });
  await new Promise<void>((res, rej) => {
    c.once('error', rej);
    c.connect(() => res());
  });
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
const mail = (to: string, subject: string, body: string) =>
  `From: someone@example.org\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\n${body}\r\n`;

/** GTUBE and EICAR through the real inbound MX, judged by a real spamd and clamd, acted on by the route's spam mode. */
describe('inbound spam and virus scanning (real spamd and clamd)', {
  skip: spamdSkipReason() ?? clamdSkipReason(),
}, () => {
  let t: TestApp;
  let tenant: Tenant;
  let spamd: DaemonProcess;
  let clamd: DaemonProcess;
  let inboundPort: number;
  let dns: DnsServer;
  const posted: Record<string, unknown>[] = [];
  const endpoint = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      posted.push(JSON.parse(body));
      res.writeHead(200).end('ok');
    });
  });
  const admin = () => ({ authorization: `Bearer ${tenant.adminToken}` });
  const route = async (address: string, spamMode: string) => {
    const url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/in`;
    const res = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/routes`, {
      body: { address, spamMode, endpoints: [{ kind: 'http', target: url }] },
      headers: admin(),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  };
  const incomingTo = async (rcpt: string) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await http(
        t.url,
        'GET',
        `/v2/messages?serverId=${tenant.server.id}&direction=incoming&recipient=${rcpt}`,
        { headers: admin() },
      );
      const found = res.body.messages?.[0];
      if (found) return (await http(t.url, 'GET', `/v2/messages/${found.id}`, { headers: admin() })).body;
      if (Date.now() > deadline) assert.fail(`no incoming message to ${rcpt}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  before(async () => {
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', () => r()));
    [spamd, clamd] = await Promise.all([startSpamd(), startClamd()]);
    dns = await startDnsServer({ local: ['example.org'] });
    inboundPort = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,projector,inbound',
      POSTLOG_INBOUND_PORT: String(inboundPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-inbound-scan-'),
      // a resolver that answers at once (the inbound MX checks SPF, DKIM and DMARC of every message)
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dns.port}`,
      POSTLOG_ROUTES_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_SPAMD_HOST: '127.0.0.1',
      POSTLOG_SPAMD_PORT: String(spamd.port),
      POSTLOG_CLAMD_HOST: '127.0.0.1',
      POSTLOG_CLAMD_PORT: String(clamd.port),
      // GTUBE scores 1000: past Postal's default fail threshold (20) it would be refused whatever the route's mode
      POSTLOG_SPAM_FAIL_THRESHOLD: '5000',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => {
    await t?.stop();
    await dns?.stop();
    await Promise.all([spamd?.stop(), clamd?.stop()]);
    endpoint.close();
  });

  it('marks GTUBE as spam and passes it on in mark mode; a plain message is NotSpam', async () => {
    await route('mark@sender.test', 'mark');
    const marked = await deliverInbound(inboundPort, 'mark@sender.test', mail('x', 'Buy', GTUBE));
    assert.equal(marked.code, 250, marked.response);
    const spam = await incomingTo('mark@sender.test');
    assert.equal(spam.incoming.scan.spamStatus, 'Spam');
    assert.ok(spam.incoming.scan.spamScore >= 5, JSON.stringify(spam.incoming.scan));
    assert.ok(spam.incoming.scan.symbols.some((s: { name: string }) => s.name === 'GTUBE'));
    const deadline = Date.now() + 20_000;
    while (!posted.some((p) => p.subject === 'Buy') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const payload = posted.find((p) => p.subject === 'Buy')!;
    assert.equal(payload.spam_status, 'Spam');
    await route('plain@sender.test', 'mark');
    assert.equal(
      (await deliverInbound(inboundPort, 'plain@sender.test', mail('x', 'Hi', 'See you at noon.'))).code,
      250,
    );
    assert.equal((await incomingTo('plain@sender.test')).incoming.scan.spamStatus, 'NotSpam');
  });

  it('records the verdict as its own IncomingScanned event, between IncomingReceived and the routing', async () => {
    const hooks = await startWebhookReceiver();
    const webhook = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/webhooks`, {
      body: { url: hooks.url, events: ['MessageReceived'] },
      headers: admin(),
    });
    assert.equal(webhook.status, 201, JSON.stringify(webhook.body));
    await route('history@sender.test', 'quarantine');
    assert.equal((await deliverInbound(inboundPort, 'history@sender.test', mail('x', 'H', GTUBE))).code, 250);
    const message = await incomingTo('history@sender.test');
    const history = await http(t.url, 'GET', `/v2/messages/${message.id}/history`, { headers: admin() });
    assert.equal(history.status, 200, JSON.stringify(history.body));
    const events: { type: string; data: Record<string, any> }[] = history.body.events;
    assert.deepEqual(
      events.map((e) => e.type),
      ['IncomingReceived', 'IncomingScanned', 'IncomingHeld'],
    );
    const [received, scanned] = events;
    assert.equal(received!.data.scan, undefined, 'new IncomingReceived events do not carry the verdict');
    assert.deepEqual(scanned!.data.scanners, ['spamassassin', 'clamav']);
    assert.equal(scanned!.data.spamStatus, 'Spam');
    assert.ok(scanned!.data.spamScore >= 5);
    assert.ok(scanned!.data.symbols.some((s: { name: string }) => s.name === 'GTUBE'));
    assert.equal(scanned!.data.virus, undefined);
    assert.equal(scanned!.data.at, received!.data.at);
    // the readers take it from there: the message view and the list's read model
    assert.equal(message.incoming.scan.spamStatus, 'Spam');
    assert.deepEqual(message.incoming.scan.scanners, ['spamassassin', 'clamav']);
    assert.equal(message.spamStatus, 'Spam');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await http(
        t.url,
        'GET',
        `/v2/messages?serverId=${tenant.server.id}&direction=incoming&recipient=history@sender.test`,
        { headers: admin() },
      );
      const row = list.body.messages?.[0];
      if (row?.spamStatus === 'Spam') break;
      if (Date.now() > deadline) assert.fail(`the list row has no verdict: ${JSON.stringify(row)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // and the MessageReceived webhook
    while (!hooks.received.some((h) => String(h.json.payload.message.id) === message.id) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await hooks.close();
    const hook = hooks.received.find((h) => String(h.json.payload.message.id) === message.id);
    assert.ok(hook, 'a MessageReceived webhook');
    assert.equal(hook.json.payload.spam_status, 'Spam');
    assert.ok(hook.json.payload.spam_score >= 5);
  });

  it('holds spam for a quarantining route and refuses it for a failing one', async () => {
    await route('quarantine@sender.test', 'quarantine');
    assert.equal((await deliverInbound(inboundPort, 'quarantine@sender.test', mail('x', 'Q', GTUBE))).code, 250);
    const held = await incomingTo('quarantine@sender.test');
    assert.equal(held.status, 'held');
    assert.match(held.heldReason, /spam score/);
    await route('strict@sender.test', 'fail');
    const refused = await deliverInbound(inboundPort, 'strict@sender.test', mail('x', 'S', GTUBE));
    assert.equal(refused.code, 554, refused.response);
    assert.match(refused.response, /5\.7\.1/);
    assert.equal((await incomingTo('strict@sender.test')).status, 'rejected');
  });

  it('refuses EICAR, or holds it when the route quarantines', async () => {
    await route('virus@sender.test', 'mark');
    const refused = await deliverInbound(inboundPort, 'virus@sender.test', mail('x', 'V', EICAR));
    assert.equal(refused.code, 554, refused.response);
    const rejected = await incomingTo('virus@sender.test');
    assert.equal(rejected.status, 'rejected');
    assert.match(rejected.incoming.scan.virus, /Eicar/i);
    await route('virus-q@sender.test', 'quarantine');
    assert.equal((await deliverInbound(inboundPort, 'virus-q@sender.test', mail('x', 'VQ', EICAR))).code, 250);
    assert.equal((await incomingTo('virus-q@sender.test')).status, 'held');
  });

  it("follows the server's own spam thresholds when it has them", async () => {
    const patch = (body: Record<string, unknown>) =>
      http(t.url, 'PATCH', `/v2/servers/${tenant.server.id}`, { body, headers: admin() });
    const relaxed = await patch({ spamThreshold: 2000 });
    assert.equal(relaxed.status, 200, JSON.stringify(relaxed.body));
    assert.equal(relaxed.body.spamThreshold, 2000);
    await route('lenient@sender.test', 'quarantine');
    assert.equal((await deliverInbound(inboundPort, 'lenient@sender.test', mail('x', 'L', GTUBE))).code, 250);
    const passed = await incomingTo('lenient@sender.test');
    assert.equal(passed.incoming.scan.spamStatus, 'NotSpam', 'under this server’s threshold');
    assert.equal(passed.incoming.scan.spamThreshold, 2000);
    assert.notEqual(passed.status, 'held');
    assert.equal((await patch({ spamThreshold: null, spamFailThreshold: 100 })).status, 200);
    await route('strict2@sender.test', 'mark');
    const refused = await deliverInbound(inboundPort, 'strict2@sender.test', mail('x', 'S2', GTUBE));
    assert.equal(refused.code, 554, 'past this server’s fail threshold, whatever the route');
  });
});
