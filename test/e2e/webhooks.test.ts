import assert from 'node:assert/strict';
import { createHmac, createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const HUMAN =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** X-Postlog-Signature checked the way the README tells receivers to, independently of Postlog's code. */
function hmacValid(hook: ReceivedWebhook, secret: string): boolean {
  const header = String(hook.headers['x-postlog-signature']);
  const t = /(?:^|,)t=(\d+)/.exec(header)?.[1];
  if (!t || Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${hook.body}`).digest('hex');
  return [...header.matchAll(/v1=([0-9a-f]{64})/g)].some((m) => m[1] === expected);
}

function rsaValid(
  hook: ReceivedWebhook,
  jwks: { keys: (JsonWebKey & { kid: string })[] },
  digest: 'sha256' | 'sha1' = 'sha256',
): boolean {
  const jwk = jwks.keys.find((k) => k.kid === hook.headers['x-postal-signature-kid']);
  if (!jwk) return false;
  return verify(
    digest,
    Buffer.from(hook.body),
    createPublicKey({ key: jwk, format: 'jwk' }),
    Buffer.from(String(hook.headers[digest === 'sha1' ? 'x-postal-signature' : 'x-postal-signature-256']), 'base64'),
  );
}

/** Postal's message hash, as receivers written for Postal read it. */
function assertPostalMessage(
  m: Record<string, unknown>,
  expected: { id: string; to: string; from: string; subject: string },
) {
  assert.equal(m.id, Number(expected.id));
  assert.match(String(m.token), /^[A-Za-z0-9]{16}$/);
  assert.equal(m.direction, 'outgoing');
  assert.equal(typeof m.message_id, 'string');
  assert.equal(m.to, expected.to);
  assert.equal(m.from, expected.from);
  assert.equal(m.subject, expected.subject);
  assert.equal(typeof m.timestamp, 'number');
  assert.equal(m.spam_status, 'NotChecked');
  assert.ok('tag' in m);
}

describe('webhooks: Postal-compatible, signed, retried with back-off, in order per message, with a circuit breaker', () => {
  let t: TestApp;
  let sink: SmtpSink;
  const receivers: WebhookReceiver[] = [];
  const key = (x: Tenant) => ({ 'X-Server-API-Key': x.apiKey });
  const receiver = async () => {
    const r = await startWebhookReceiver();
    receivers.push(r);
    return r;
  };
  const history = async (x: Tenant, id: string) =>
    (await http(t.url, 'GET', `/v2/messages/${id}/history`, { headers: key(x) })).body.events as {
      eventId: string;
      type: string;
    }[];
  const waitForEvent = (x: Tenant, id: string, type: string) =>
    eventually(
      async () => (await history(x, id)).find((e) => e.type === type),
      () => `message ${id} has no ${type}`,
      { intervalMs: 50 },
    );
  const send = async (x: Tenant, from: string, to: string, extra: Record<string, unknown> = {}) => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from, to: [to], subject: 'Webhook test', text: 'Hi', ...extra },
      headers: key(x),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.messages[0].id as string;
  };
  const createEndpoint = async (x: Tenant, body: Record<string, unknown>) => {
    const res = await http(t.url, 'POST', `/v2/servers/${x.server.id}/webhooks`, { body, headers: key(x) });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { endpoint: { id: string }; secret: string };
  };

  before(async () => {
    const port = await freePort();
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.13', sinkPort, { tls: false });
    t = await startTestApp({
      POSTLOG_HTTP_PORT: String(port),
      POSTLOG_PUBLIC_URL: `http://127.0.0.1:${port}`,
      POSTLOG_ROLES: 'api,mta,projector,tracking',
      POSTLOG_DATA_DIR: tempDataDir('postlog-webhooks-'),
      POSTLOG_SMART_HOST: `127.0.0.13:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_WEBHOOK_RETRY_DELAYS: '0.3,0.6,1.2',
      POSTLOG_WEBHOOK_POLL_MS: '50',
      POSTLOG_WEBHOOK_CIRCUIT_BREAKER_FAILURES: '4',
      POSTLOG_WEBHOOK_CIRCUIT_BREAKER_COOLDOWN_SECONDS: '1.5',
    });
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
    for (const r of receivers) await r.close();
  });

  it('retries a failing receiver with growing delays until it takes the event, signed with the published key and the endpoint secret', async () => {
    const tenant = await createTenant(t.app, { domain: 'retry.test' });
    const r = await receiver();
    let calls = 0;
    r.respond = () => (++calls <= 3 ? 500 : 200);
    const { endpoint, secret } = await createEndpoint(tenant, {
      url: r.url,
      events: ['MessageSent'],
      description: 'fails three times',
    });
    assert.match(secret, /^whsec_[A-Za-z0-9]{40}$/);

    const id = await send(tenant, 'app@retry.test', 'someone@example.org');
    await eventually(
      async () => (r.received.some((h) => h.answered === 200) ? true : undefined),
      () => `received ${r.received.map((h) => h.answered).join(',')}`,
    );
    await sleep(500); // nothing more may come
    assert.deepEqual(
      r.received.map((h) => h.answered),
      [500, 500, 500, 200],
    );
    // the same delivery each time, with exponentially growing pauses (0.3 s, 0.6 s, 1.2 s)
    assert.equal(new Set(r.received.map((h) => h.json.uuid)).size, 1);
    const gaps = r.received.slice(1).map((h, i) => h.at - r.received[i]!.at);
    [300, 600, 1200].forEach((delay, i) =>
      assert.ok(gaps[i]! >= delay - 30, `gap ${i + 1} was ${gaps[i]} ms, expected at least ${delay}`),
    );
    assert.ok(gaps[2]! > gaps[0]!, 'back-off grows');
    assert.deepEqual(
      r.received.map((h) => h.headers['x-postlog-attempt']),
      ['1', '2', '3', '4'],
    );

    // Postal's body and payload
    const hook = r.received[3]!;
    assert.deepEqual(Object.keys(hook.json).sort(), ['event', 'payload', 'timestamp', 'uuid']);
    assert.equal(hook.json.event, 'MessageSent');
    assert.equal(hook.json.uuid, hook.headers['x-postlog-delivery-id']);
    const p = hook.json.payload;
    assertPostalMessage(p.message, { id, to: 'someone@example.org', from: 'app@retry.test', subject: 'Webhook test' });
    assert.equal(p.status, 'Sent');
    assert.match(p.details, /accepted by/);
    assert.match(String(p.output), /^250/);
    assert.equal(p.sent_with_ssl, false);
    assert.equal(typeof p.timestamp, 'number');
    assert.equal(typeof p.time, 'number');
    // the event id is the log's
    const delivered = await waitForEvent(tenant, id, 'MessageDelivered');
    assert.equal(hook.headers['x-postlog-event-id'], delivered.eventId);
    assert.equal(hook.headers['x-postlog-event'], 'MessageSent');

    // both signatures verify: RSA with the key from /.well-known/jwks.json (no credentials), HMAC with the secret
    const jwks = await http(t.url, 'GET', '/.well-known/jwks.json');
    assert.equal(jwks.status, 200);
    assert.equal(jwks.body.keys.length, 1);
    assert.equal(jwks.body.keys[0].alg, 'RS256');
    assert.equal(jwks.body.keys[0].use, 'sig');
    assert.equal(jwks.body.keys[0].kty, 'RSA');
    for (const h of r.received) {
      assert.ok(rsaValid(h, jwks.body), 'X-Postal-Signature-256 verifies with the published key');
      assert.ok(rsaValid(h, jwks.body, 'sha1'), "X-Postal-Signature (Postal's legacy RSA-SHA1) verifies with it too");
      assert.ok(hmacValid(h, secret), 'X-Postlog-Signature verifies with the endpoint secret');
      assert.equal(h.headers['x-postlog-timestamp'], /t=(\d+)/.exec(String(h.headers['x-postlog-signature']))![1]);
    }
    const tampered = { ...hook, body: hook.body.replace('"Sent"', '"SoftFail"') };
    assert.equal(rsaValid(tampered, jwks.body), false);
    assert.equal(rsaValid(tampered, jwks.body, 'sha1'), false);
    assert.equal(hmacValid(tampered, secret), false);
    assert.equal(hmacValid(hook, 'whsec_wrong'), false);

    // the delivery log over the API shows every attempt
    const log = await eventually(
      async () => {
        const res = await http(t.url, 'GET', `/v2/webhooks/${endpoint.id}/deliveries`, { headers: key(tenant) });
        return res.body.deliveries?.[0]?.status === 'delivered' ? res.body : undefined;
      },
      () => 'the delivery is not recorded as delivered',
    );
    assert.equal(log.deliveries.length, 1);
    const d = log.deliveries[0];
    assert.equal(d.id, hook.json.uuid);
    assert.equal(d.eventId, delivered.eventId);
    assert.equal(d.messageId, id);
    assert.deepEqual(
      d.attempts.map((a: { statusCode: number }) => a.statusCode),
      [500, 500, 500, 200],
    );
    assert.match(d.attempts[0].response, /failing on purpose/);
    assert.ok(d.attempts.every((a: { durationMs: number }) => a.durationMs >= 0));
    assert.equal(d.lastStatusCode, 200);
    assert.equal(d.nextAttemptAt, null);

    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /postlog_webhook_deliveries_total\{outcome="retry"\} [3-9]/);
    assert.match(metrics, /postlog_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
    assert.match(metrics, /postlog_webhook_attempt_seconds_count\{outcome="failure"\} [3-9]/);
  });

  it('keeps the order of one message per endpoint: opens, clicks and unsubscribes wait until the delivery was taken', async () => {
    const tenant = await createTenant(t.app, { domain: 'order.test' });
    await t.app.tenancy.updateServer(systemActor('test'), tenant.server.id, { listUnsubscribe: true });
    const r = await receiver();
    let gateOpen = false;
    r.respond = (h) => (h.json.event === 'MessageSent' && !gateOpen ? 503 : 200);
    const everything = await receiver();
    await createEndpoint(tenant, { url: r.url });
    const filtered = await receiver();
    await createEndpoint(tenant, { url: filtered.url, events: ['MessageLinkClicked'] });
    await createEndpoint(tenant, { url: everything.url, events: null });

    const html = '<html><body><p>Hi</p><a href="https://shop.example.com/offer">Offer</a></body></html>';
    const id = await send(tenant, 'app@order.test', 'reader@example.org', { html });
    const mail = await eventually(
      async () => sink.received.find((m) => m.to.includes('reader@example.org')),
      () => 'the message did not arrive',
    );
    const email = await PostalMime.parse(mail.raw);
    const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(email.html!)![1]!;
    const link = /href="([^"]+\/t\/c\/[^"]+)"/.exec(email.html!)![1]!;
    const unsubscribe = /<(http[^>]+)>/.exec(email.headers.find((h) => h.key === 'list-unsubscribe')!.value)![1]!;
    await waitForEvent(tenant, id, 'MessageDelivered');
    assert.equal((await fetch(pixel, { headers: { 'user-agent': HUMAN } })).status, 200);
    assert.equal((await fetch(link, { redirect: 'manual', headers: { 'user-agent': HUMAN } })).status, 302);
    await waitForEvent(tenant, id, 'MessageLinkClicked'); // hits reach the log in batches: keep the order known
    assert.equal(
      (
        await fetch(unsubscribe, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'List-Unsubscribe=One-Click',
        })
      ).status,
      200,
    );
    await waitForEvent(tenant, id, 'MessageUnsubscribed');
    const names: Record<string, string> = {
      MessageDelivered: 'MessageSent',
      MessageOpened: 'MessageLoaded',
      MessageLinkClicked: 'MessageLinkClicked',
      MessageUnsubscribed: 'MessageUnsubscribed',
    };
    const logOrder = (await history(tenant, id)).filter((e) => e.type in names).map((e) => names[e.type]);
    assert.deepEqual(logOrder, ['MessageSent', 'MessageLoaded', 'MessageLinkClicked', 'MessageUnsubscribed']);
    // the other endpoint got everything already, in the log's order
    await eventually(
      async () => (everything.received.length >= 4 ? true : undefined),
      () => `got ${everything.received.map((h) => h.json.event)}`,
    );
    assert.deepEqual(
      everything.received.map((h) => h.json.event),
      ['MessageSent', 'MessageLoaded', 'MessageLinkClicked', 'MessageUnsubscribed'],
    );
    await sleep(700);
    assert.ok(r.received.length >= 2, 'the delivery was tried more than once');
    assert.ok(
      r.received.every((h) => h.json.event === 'MessageSent'),
      'nothing later about this message went before its delivery',
    );

    gateOpen = true;
    await eventually(
      async () => (r.received.filter((h) => h.answered === 200).length >= 4 ? true : undefined),
      () => `got ${r.received.map((h) => `${h.json.event}:${h.answered}`)}`,
      { timeoutMs: 30_000 },
    );
    const taken = r.received.filter((h) => h.answered === 200);
    assert.deepEqual(
      taken.map((h) => h.json.event),
      ['MessageSent', 'MessageLoaded', 'MessageLinkClicked', 'MessageUnsubscribed'],
    );
    const firstTaken = r.received.findIndex((h) => h.answered === 200);
    assert.ok(r.received.slice(0, firstTaken).every((h) => h.json.event === 'MessageSent'));

    const loaded = taken[1]!.json.payload;
    assertPostalMessage(loaded.message, {
      id,
      to: 'reader@example.org',
      from: 'app@order.test',
      subject: 'Webhook test',
    });
    assert.equal(loaded.ip_address, '127.0.0.1');
    assert.equal(loaded.user_agent, HUMAN);
    const clicked = taken[2]!.json.payload;
    assert.equal(clicked.url, 'https://shop.example.com/offer');
    assert.match(clicked.token, /^[A-Za-z0-9_-]{16}$/);
    assert.equal(clicked.ip_address, '127.0.0.1');
    assert.equal(clicked.user_agent, HUMAN);
    assert.equal(taken[3]!.json.payload.method, 'one-click');
    // the events filter: that endpoint heard of the click only
    assert.deepEqual(
      filtered.received.map((h) => h.json.event),
      ['MessageLinkClicked'],
    );
  });

  it('opens the circuit after consecutive failures, pauses the endpoint, probes once per cool-down, and closes on success', async () => {
    const tenant = await createTenant(t.app, { domain: 'breaker.test' });
    const r = await receiver();
    let healthy = false;
    r.respond = () => (healthy ? 200 : 503);
    const { endpoint } = await createEndpoint(tenant, { url: r.url });
    const state = async () =>
      (await http(t.url, 'GET', `/v2/webhooks/${endpoint.id}`, { headers: key(tenant) })).body as {
        circuit: { state: string; consecutiveFailures: number; pausedUntil: string | null };
      };
    await send(tenant, 'app@breaker.test', 'one@example.org');
    await send(tenant, 'app@breaker.test', 'two@example.org');

    const opened = await eventually(
      async () => ((await state()).circuit.state === 'open' ? state() : undefined),
      () => `received ${r.received.length}`,
      { intervalMs: 20 },
    );
    assert.ok(opened.circuit.consecutiveFailures >= 4);
    await sleep(150);
    const before = r.received.length;
    const pausedFor = Date.parse(opened.circuit.pausedUntil!) - Date.now();
    await sleep(Math.max(0, pausedFor - 150));
    assert.equal(r.received.length, before, 'nothing is sent while the circuit is open');

    // half-open: exactly one probe; it fails, and the circuit opens again
    await eventually(
      async () => (r.received.length > before ? true : undefined),
      () => 'no probe came',
      { intervalMs: 20 },
    );
    await sleep(800);
    assert.equal(r.received.length, before + 1, 'one probe, not a flood');
    assert.equal((await state()).circuit.state, 'open');

    healthy = true;
    await eventually(
      async () => {
        const log = (
          await http(t.url, 'GET', `/v2/webhooks/${endpoint.id}/deliveries?status=delivered`, { headers: key(tenant) })
        ).body;
        return log.deliveries.length === 2 ? true : undefined;
      },
      () => `received ${r.received.map((h) => h.answered)}`,
      { timeoutMs: 20_000 },
    );
    const closed = await state();
    assert.equal(closed.circuit.state, 'closed');
    assert.equal(closed.circuit.consecutiveFailures, 0);
    assert.match(await (await fetch(`${t.url}/metrics`)).text(), /postlog_webhook_circuit_opened_total [1-9]/);
  });

  it('reports a refused recipient as MessageDeliveryFailed and a held message as MessageHeld, as Postal does', async () => {
    const live = await createTenant(t.app, { domain: 'refused.test' });
    const dev = await createTenant(t.app, { domain: 'dev.test', mode: 'development' });
    const r = await receiver();
    await createEndpoint(live, { url: r.url });
    await createEndpoint(dev, { url: r.url });
    sink.behaviours.set('gone@example.org', {
      code: 550,
      text: '5.1.1 <gone@example.org>: Recipient address rejected: User unknown',
    });
    const refused = await send(live, 'app@refused.test', 'gone@example.org');
    const held = await send(dev, 'app@dev.test', 'someone@example.org');
    await eventually(
      async () => (r.received.length >= 2 ? true : undefined),
      () => `got ${r.received.map((h) => h.json.event)}`,
    );
    const failed = r.received.find((h) => h.json.event === 'MessageDeliveryFailed')!;
    assert.equal(failed.json.payload.message.id, Number(refused));
    assert.equal(failed.json.payload.status, 'HardFail');
    assert.match(failed.json.payload.output, /^550 /);
    const hold = r.received.find((h) => h.json.event === 'MessageHeld')!;
    assert.equal(hold.json.payload.message.id, Number(held));
    assert.equal(hold.json.payload.status, 'Held');
    assert.match(hold.json.payload.details, /development mode/);
  });

  it('manages endpoints per server: validation, events filter, visibility, changes and deletion', async () => {
    const a = await createTenant(t.app, { domain: 'manage-a.test' });
    const b = await createTenant(t.app, { domain: 'manage-b.test' });
    const path = `/v2/servers/${a.server.id}/webhooks`;
    const bad = await http(t.url, 'POST', path, { body: { url: 'ftp://example.com/x' }, headers: key(a) });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
    const badEvent = await http(t.url, 'POST', path, {
      body: { url: 'https://example.com/x', events: ['MessageExploded'] },
      headers: key(a),
    });
    assert.equal(badEvent.status, 400);
    assert.equal(
      (await http(t.url, 'POST', path, { body: { url: 'https://example.com/x' }, headers: key(b) })).status,
      404,
      "another server's key cannot add endpoints here",
    );

    const { endpoint } = await createEndpoint(a, {
      url: 'https://example.com/hooks',
      events: ['MessageSent', 'MessageBounced'],
    });
    const list = await http(t.url, 'GET', path, { headers: { authorization: `Bearer ${a.adminToken}` } });
    assert.equal(list.status, 200);
    assert.equal(list.body.webhooks.length, 1);
    assert.equal('secret' in list.body.webhooks[0], false, 'the secret is shown only once');
    assert.deepEqual(list.body.webhooks[0].events, ['MessageSent', 'MessageBounced']);
    assert.equal((await http(t.url, 'GET', `/v2/webhooks/${endpoint.id}`, { headers: key(b) })).status, 404);

    const patched = await http(t.url, 'PATCH', `/v2/webhooks/${endpoint.id}`, {
      body: { events: null, enabled: false, description: 'all events' },
      headers: key(a),
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.events, null);
    assert.equal(patched.body.enabled, false);
    assert.equal(patched.body.url, 'https://example.com/hooks');
    const rotated = await http(t.url, 'POST', `/v2/webhooks/${endpoint.id}/secret/rotate`, { headers: key(a) });
    assert.match(rotated.body.secret, /^whsec_/);
    assert.equal((await http(t.url, 'DELETE', `/v2/webhooks/${endpoint.id}`, { headers: key(b) })).status, 404);
    assert.equal((await http(t.url, 'DELETE', `/v2/webhooks/${endpoint.id}`, { headers: key(a) })).status, 204);
    assert.equal((await http(t.url, 'GET', `/v2/webhooks/${endpoint.id}`, { headers: key(a) })).status, 404);

    // documented in the OpenAPI description (/docs)
    const docs = (await http(t.url, 'GET', '/docs/json')).body as { paths: Record<string, unknown> };
    for (const p of [
      '/v2/servers/{id}/webhooks',
      '/v2/webhooks/{id}',
      '/v2/webhooks/{id}/deliveries',
      '/v2/webhooks/{id}/redeliver',
      '/.well-known/jwks.json',
    ])
      assert.ok(p in docs.paths, p);
  });
});

describe('webhooks: giving up, manual redelivery, secret rotation, private addresses', () => {
  let t: TestApp;
  let guarded: TestApp;
  let sink: SmtpSink;
  let r: WebhookReceiver;
  let tenant: Tenant;
  const key = () => ({ 'X-Server-API-Key': tenant.apiKey });

  before(async () => {
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.14', sinkPort, { tls: false });
    r = await startWebhookReceiver();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,mta,projector',
      POSTLOG_DATA_DIR: tempDataDir('postlog-webhooks-'),
      POSTLOG_SMART_HOST: `127.0.0.14:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_WEBHOOK_RETRY_DELAYS: '0.5',
      POSTLOG_WEBHOOK_POLL_MS: '50',
      // 3.6 s: a delivery that cannot get through is given up quickly
      POSTLOG_WEBHOOK_MAX_AGE_HOURS: '0.001',
    });
    guarded = await startTestApp({ POSTLOG_ROLES: 'api' });
    tenant = await createTenant(t.app, { domain: 'giveup.test' });
  });
  after(async () => {
    await t?.stop();
    await guarded?.stop();
    await sink?.close();
    await r?.close();
  });

  it('gives a delivery up after the maximum age, and sends it again on request with the same uuid and event id', async () => {
    let healthy = false;
    r.respond = () => (healthy ? 200 : 500);
    const res = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/webhooks`, {
      body: { url: r.url },
      headers: key(),
    });
    const { endpoint, secret } = res.body as { endpoint: { id: string }; secret: string };
    const started = new Date(Date.now() - 1000).toISOString();
    const sent = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@giveup.test', to: ['x@example.org'], subject: 'Give up', text: 'x' },
      headers: key(),
    });
    assert.equal(sent.status, 202);
    const log = async (query = '') =>
      (await http(t.url, 'GET', `/v2/webhooks/${endpoint.id}/deliveries${query}`, { headers: key() })).body;
    const failed = await eventually(
      async () => (await log('?status=failed')).deliveries[0] as Record<string, any> | undefined,
      () => `received ${r.received.length}`,
      { timeoutMs: 15_000 },
    );
    assert.ok(failed.attempts.length >= 3, `tried ${failed.attempts.length} times`);
    assert.equal(failed.lastStatusCode, 500);
    assert.equal(failed.nextAttemptAt, null);
    const tries = r.received.length;
    await sleep(800);
    assert.equal(r.received.length, tries, 'a given-up delivery is not tried again');

    // bulk redelivery of what failed in a time range
    healthy = true;
    const bulk = await http(t.url, 'POST', `/v2/webhooks/${endpoint.id}/redeliver`, {
      body: { from: started, to: new Date(Date.now() + 1000).toISOString() },
      headers: key(),
    });
    assert.equal(bulk.status, 202);
    assert.equal(bulk.body.queued, 1);
    await eventually(
      async () => (r.received.at(-1)?.answered === 200 ? true : undefined),
      () => 'not redelivered',
    );
    const first = r.received.at(-1)!;
    assert.equal(first.json.uuid, failed.id);
    assert.equal(first.headers['x-postlog-event-id'], failed.eventId);

    // one delivery again, after a secret rotation: the old and the new secret both sign for a while
    const rotated = (await http(t.url, 'POST', `/v2/webhooks/${endpoint.id}/secret/rotate`, { headers: key() })).body
      .secret as string;
    // (paused meanwhile, so the redelivery is certainly still pending when asked for twice)
    assert.equal(
      (await http(t.url, 'PATCH', `/v2/webhooks/${endpoint.id}`, { body: { enabled: false }, headers: key() })).status,
      200,
    );
    const again = await http(t.url, 'POST', `/v2/webhooks/${endpoint.id}/deliveries/${failed.id}/redeliver`, {
      headers: key(),
    });
    assert.equal(again.status, 202);
    assert.equal(
      (await http(t.url, 'POST', `/v2/webhooks/${endpoint.id}/deliveries/${failed.id}/redeliver`, { headers: key() }))
        .status,
      409,
      'still pending',
    );
    assert.equal(
      (
        await http(
          t.url,
          'POST',
          `/v2/webhooks/${endpoint.id}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`,
          { headers: key() },
        )
      ).status,
      404,
    );
    await sleep(300);
    assert.equal(r.received.length, tries + 1, 'a disabled endpoint gets nothing');
    assert.equal(
      (await http(t.url, 'PATCH', `/v2/webhooks/${endpoint.id}`, { body: { enabled: true }, headers: key() })).status,
      200,
    );
    await eventually(
      async () => (r.received.length === tries + 2 ? true : undefined),
      () => `received ${r.received.length}`,
    );
    const second = r.received.at(-1)!;
    assert.equal(second.json.uuid, failed.id);
    assert.equal(second.body, first.body, 'the same body: receivers drop it by uuid if they already have it');
    assert.equal([...String(second.headers['x-postlog-signature']).matchAll(/v1=/g)].length, 2);
    assert.ok(hmacValid(second, rotated));
    assert.ok(hmacValid(second, secret));

    const detail = await eventually(
      async () => {
        const d = (await http(t.url, 'GET', `/v2/webhooks/${endpoint.id}/deliveries/${failed.id}`, { headers: key() }))
          .body;
        return d.status === 'delivered' ? d : undefined;
      },
      () => 'not delivered',
    );
    assert.equal(detail.attempts.at(-1).statusCode, 200);
    assert.equal(detail.attempts.length, tries + 2);
    assert.equal(JSON.parse(detail.body).uuid, failed.id);

    // pagination of the log
    const page = await log('?limit=1');
    assert.equal(page.deliveries.length, 1);
    assert.match(page.next, /^\d+$/);
    const rest = await log(`?limit=1&cursor=${page.next}`);
    assert.deepEqual(rest, { deliveries: [], next: null });
    assert.equal((await log('?status=pending')).deliveries.length, 0);
  });

  it('refuses endpoints on private addresses unless the operator allows them, also when a name resolves to one', async () => {
    const x = await createTenant(guarded.app, { domain: 'guard.test' });
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://[::1]/hook',
      'http://169.254.169.254/latest',
    ]) {
      const res = await http(guarded.url, 'POST', `/v2/servers/${x.server.id}/webhooks`, {
        body: { url },
        headers: { 'X-Server-API-Key': x.apiKey },
      });
      assert.equal(res.status, 400, url);
      assert.match(res.body.message, /private address/);
    }
  });
});
