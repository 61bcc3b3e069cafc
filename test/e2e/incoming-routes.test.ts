import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { dkimSign } from 'mailauth';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/** Hands a message to the inbound MX as a remote MTA would; the reply code and text. */
async function deliverInbound(port: number, from: string, to: string | string[], raw: string) {
  const c = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, logger: false, name: 'mx.author.test' });
  await new Promise<void>((res, rej) => {
    c.once('error', rej);
    c.connect(() => res());
  });
  try {
    return await new Promise<{ code: number; response: string }>((resolve) =>
      c.send({ from, to: Array.isArray(to) ? to : [to] }, raw, (err, info) => {
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

/** An HTTP endpoint that records what it is posted and answers with `status()`. */
async function endpoint(status: () => number) {
  const posts: { body: string; type: string; headers: IncomingMessage['headers'] }[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      posts.push({ body: data, type: String(req.headers['content-type']), headers: req.headers });
      res.writeHead(status()).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`, posts, close: () => server.close() };
}

const eventually = async <T>(read: () => Promise<T>, done: (v: T) => boolean, what: string, ms = 20_000) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('incoming messages: routes with modes and endpoints, recorded as events', {
  skip: !dnsmasqAvailable(),
}, () => {
  let t: TestApp;
  let tenant: Tenant;
  let inboundPort: number;
  let sink: SmtpSink;
  let dns: DnsServer;
  let signed: string;
  let hooks: WebhookReceiver;
  /** The webhook of this kind about this message, once it arrived. */
  const hookFor = (event: string, id: string) =>
    eventually(
      async () => hooks.received.find((h) => h.json.event === event && String(h.json.payload.message.id) === id),
      (h) => h !== undefined,
      `no ${event} webhook for message ${id}`,
    );
  const admin = () => ({ authorization: `Bearer ${tenant.adminToken}` });
  const route = async (body: Record<string, unknown>) => {
    const res = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/routes`, { body, headers: admin() });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; endpoints: { id: string }[] };
  };
  const mail = (to: string, subject: string, body = 'Hello there.') =>
    [
      'From: Ann Author <ann@author.test>',
      `To: ${to}`,
      `Subject: ${subject}`,
      `Message-ID: <${subject.replace(/\W/g, '')}@author.test>`,
      '',
      body,
      '',
    ].join('\r\n');
  const message = (id: string) => http(t.url, 'GET', `/v2/messages/${id}`, { headers: admin() });
  const incomingTo = async (rcpt: string) =>
    (
      await eventually(
        () =>
          http(t.url, 'GET', `/v2/messages?serverId=${tenant.server.id}&direction=incoming&recipient=${rcpt}`, {
            headers: admin(),
          }),
        (r) => r.body.messages?.length > 0,
        `no incoming message to ${rcpt}`,
      )
    ).body.messages[0] as { id: string; status: string; direction: string };
  const statusOf = (id: string, status: string) =>
    eventually(
      () => message(id),
      (r) => r.body.status === status,
      `message ${id} never ${status}`,
    );

  before(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    dns = await startDnsServer({
      txt: [
        ['author.test', 'v=spf1 ip4:127.0.0.1 -all'],
        ['sel._domainkey.author.test', `v=DKIM1; k=rsa; p=${p}`],
        ['_dmarc.author.test', 'v=DMARC1; p=reject'],
      ],
      local: ['author.test'],
    });
    const raw = mail('support@sender.test', 'Signed and sealed');
    const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const signature = await dkimSign(raw, {
      signingDomain: 'author.test',
      selector: 'sel',
      privateKey: key,
      signatureData: [{ signingDomain: 'author.test', selector: 'sel', privateKey: key }],
    });
    signed = signature.signatures + raw;
    inboundPort = await freePort();
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.1', sinkPort, { tls: false });
    t = await startTestApp({
      POSTLOG_ROLES: 'api,mta,projector,inbound',
      POSTLOG_INBOUND_PORT: String(inboundPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-incoming-'),
      POSTLOG_SMART_HOST: `127.0.0.1:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dns.port}`,
      POSTLOG_ROUTE_RETRY_DELAYS: '1,1',
      POSTLOG_ROUTES_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    hooks = await startWebhookReceiver();
    const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/webhooks`, {
      body: { url: hooks.url, events: ['MessageReceived', 'IncomingMessageHeld', 'IncomingMessageFailed'] },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
  after(async () => {
    await t?.stop();
    await hooks?.close();
    await sink?.close();
    await dns?.stop();
  });

  it('hands a message to every endpoint of its route (HTTP raw, another SMTP server) with its authentication results', async () => {
    const web = await endpoint(() => 200);
    try {
      await route({
        address: 'support@sender.test',
        endpoints: [
          { kind: 'http', target: web.url, format: 'raw' },
          { kind: 'smtp', target: `127.0.0.1:${sink.port}` },
        ],
      });
      const res = await deliverInbound(inboundPort, 'ann@author.test', 'support@sender.test', signed);
      assert.equal(res.code, 250, res.response);
      const listed = await incomingTo('support@sender.test');
      assert.equal(listed.direction, 'incoming');
      const view = (await statusOf(listed.id, 'delivered')).body;
      assert.deepEqual(
        [view.incoming.authentication.spf, view.incoming.authentication.dkim, view.incoming.authentication.dmarc],
        ['pass', 'pass', 'pass'],
      );
      assert.deepEqual(
        view.incoming.endpoints.map((e: { kind: string; status: string }) => [e.kind, e.status]),
        [
          ['http', 'delivered'],
          ['smtp', 'delivered'],
        ],
      );
      // the raw message an endpoint gets carries our Authentication-Results in front of its own bytes
      const posted = JSON.parse(web.posts[0]!.body);
      const forwarded = Buffer.from(posted.message, 'base64').toString();
      assert.match(forwarded, /^Authentication-Results: .*;[\s\S]*dkim=pass[\s\S]*spf=pass[\s\S]*dmarc=pass/);
      assert.ok(forwarded.endsWith(signed), 'the received bytes follow unchanged');
      assert.equal(posted.token.length, 16);
      const relayed = sink.received.find((m) => m.to.includes('support@sender.test'))!;
      assert.equal(relayed.from, 'ann@author.test');
      assert.match(relayed.raw.toString(), /Subject: Signed and sealed/);
      const history = await http(t.url, 'GET', `/v2/messages/${listed.id}/history`, { headers: admin() });
      assert.equal(history.body.stream, `incoming-${listed.id}`);
      assert.deepEqual(
        history.body.events.map((e: { type: string }) => e.type).sort(),
        ['EndpointAttempted', 'EndpointAttempted', 'IncomingDelivered', 'IncomingReceived', 'IncomingRouted'].sort(),
      );
      const received = (await hookFor('MessageReceived', listed.id))!.json.payload;
      assert.deepEqual(
        [received.message.to, received.message.from, received.authentication.dkim, received.spam_status],
        ['support@sender.test', 'ann@author.test', 'pass', 'NotChecked'],
      );
      // raw download of an incoming message is the bytes as received
      const raw = await http(t.url, 'GET', `/v2/messages/${listed.id}/raw`, { headers: admin() });
      assert.equal(raw.status, 200);
    } finally {
      web.close();
    }
  });

  it("answers Reject routes at RCPT, Bounce routes after DATA (kept, as bounced), stores Accept routes' mail", async () => {
    await route({ address: 'nobody@sender.test', mode: 'reject' });
    await route({ address: 'gone@sender.test', mode: 'bounce' });
    await route({ address: 'archive@sender.test', mode: 'accept' });
    const rejected = await deliverInbound(inboundPort, 'ann@author.test', 'nobody@sender.test', mail('x', 'Reject'));
    assert.equal(rejected.code, 550);
    const bounced = await deliverInbound(inboundPort, 'ann@author.test', 'gone@sender.test', mail('x', 'Bounce'));
    assert.equal(bounced.code, 550, bounced.response);
    assert.match(bounced.response, /5\.1\.1/);
    assert.equal((await incomingTo('gone@sender.test')).status, 'bounced');
    const stored = await deliverInbound(inboundPort, 'ann@author.test', 'archive@sender.test', mail('x', 'Keep'));
    assert.equal(stored.code, 250);
    assert.equal((await incomingTo('archive@sender.test')).status, 'stored');
  });

  it('a retry after the log refused one recipient part-way (451) stores every recipient once', async () => {
    await route({ address: 'first@sender.test', mode: 'accept' });
    await route({ address: 'second@sender.test', mode: 'accept' });
    const received = async (rcpt: string) =>
      (
        await t.db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM events WHERE type = 'IncomingReceived' AND data->>'rcptTo' = $1`,
          [rcpt],
        )
      ).rows[0]!.n;
    const both = ['first@sender.test', 'second@sender.test'];
    // a real fault in the log: its table refuses the second recipient's message while the trigger is there
    await t.db.pool.query(`
      CREATE FUNCTION refuse_second() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = 'IncomingReceived' AND NEW.data->>'rcptTo' = 'second@sender.test' THEN
          RAISE EXCEPTION 'the log refuses this one (test)';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_second BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_second();`);
    try {
      const refused = await deliverInbound(inboundPort, 'ann@author.test', both, mail('x', 'Twice'));
      assert.equal(refused.code, 451, refused.response);
    } finally {
      await t.db.pool.query('DROP TRIGGER refuse_second ON events; DROP FUNCTION refuse_second()');
    }
    assert.deepEqual([await received(both[0]!), await received(both[1]!)], [0, 0], 'nothing kept after a 451');
    // the sender's server tries again, as a 451 asks it to
    const retried = await deliverInbound(inboundPort, 'ann@author.test', both, mail('x', 'Twice'));
    assert.equal(retried.code, 250, retried.response);
    assert.deepEqual([await received(both[0]!), await received(both[1]!)], [1, 1], 'each recipient stored once');
  });

  it('holds mail for a Hold route; a release hands it to the endpoints the route has then (as a form)', async () => {
    const web = await endpoint(() => 200);
    try {
      const held = await route({ address: 'hold@sender.test', mode: 'hold' });
      assert.equal(
        (await deliverInbound(inboundPort, 'ann@author.test', 'hold@sender.test', mail('x', 'Held'))).code,
        250,
      );
      const listed = await incomingTo('hold@sender.test');
      assert.equal((await statusOf(listed.id, 'held')).body.heldReason, 'the route holds its mail');
      assert.equal((await hookFor('IncomingMessageHeld', listed.id))!.json.payload.reason, 'route');
      const changed = await http(t.url, 'PATCH', `/v2/routes/${held.id}`, {
        body: { mode: 'endpoint', endpoints: [{ kind: 'http', target: web.url, format: 'form', stripReplies: true }] },
        headers: admin(),
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      const released = await http(t.url, 'POST', `/v2/messages/${listed.id}/release`, { headers: admin() });
      assert.equal(released.status, 200, JSON.stringify(released.body));
      assert.deepEqual(released.body.events, ['IncomingReleased', 'IncomingRouted']);
      await statusOf(listed.id, 'delivered');
      const form = new URLSearchParams(web.posts[0]!.body);
      assert.equal(web.posts[0]!.type, 'application/x-www-form-urlencoded');
      assert.deepEqual(
        [form.get('rcpt_to'), form.get('subject'), form.get('spam_status')],
        ['hold@sender.test', 'Held', 'NotChecked'],
      );
      const cancel = await http(t.url, 'POST', `/v2/messages/${listed.id}/cancel`, { headers: admin() });
      assert.equal(cancel.status, 409);
      assert.equal(cancel.body.code, 'ACTION_NOT_FOR_INCOMING');
    } finally {
      web.close();
    }
  });

  it('fails an endpoint that keeps refusing after the retries; a retry hands it over again', async () => {
    let answer = 500;
    const web = await endpoint(() => answer);
    try {
      await route({ address: 'flaky@sender.test', endpointUrl: web.url });
      assert.equal(
        (await deliverInbound(inboundPort, 'ann@author.test', 'flaky@sender.test', mail('x', 'Flaky'))).code,
        250,
      );
      const listed = await incomingTo('flaky@sender.test');
      const failed = (await statusOf(listed.id, 'failed')).body;
      assert.equal(failed.incoming.endpoints[0].attempts, 3, 'the first attempt and two retries');
      assert.equal(failed.incoming.endpoints[0].lastCode, 500);
      assert.equal(
        (await hookFor('IncomingMessageFailed', listed.id))!.json.payload.endpoint_id,
        failed.incoming.endpoints[0].endpointId,
      );
      answer = 200;
      const retried = await http(t.url, 'POST', `/v2/messages/${listed.id}/retry`, { headers: admin() });
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      await statusOf(listed.id, 'delivered');
      const body = JSON.parse(web.posts.at(-1)!.body);
      assert.equal(body.subject, 'Flaky');
      assert.equal(body.received_with_ssl, false);
    } finally {
      web.close();
    }
  });

  it('forwards mail for an address endpoint through our own MTA, from the route address', async () => {
    await route({ address: 'team@sender.test', endpoints: [{ kind: 'address', target: 'person@elsewhere.test' }] });
    assert.equal(
      (await deliverInbound(inboundPort, 'ann@author.test', 'team@sender.test', mail('x', 'Forward me'))).code,
      250,
    );
    const listed = await incomingTo('team@sender.test');
    const view = (await statusOf(listed.id, 'delivered')).body;
    assert.match(view.incoming.endpoints[0].lastResponse, /as message \d+/);
    const out = await eventually(
      async () => sink.received.find((m) => m.to.includes('person@elsewhere.test')),
      (m) => m !== undefined,
      'the forwarded message never reached the sink',
    );
    assert.match(out!.raw.toString(), /Subject: Forward me/);
    assert.match(out!.raw.toString(), /DKIM-Signature: .*d=sender\.test/s);
  });
});
