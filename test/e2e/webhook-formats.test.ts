import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EventWebhook, EventWebhookHeader } from '@sendgrid/eventwebhook';
import PostalMime from 'postal-mime';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const HUMAN =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A received body: whatever JSON the format sends. */
const bodyOf = (h: ReceivedWebhook): any => JSON.parse(h.body);

/** SendGrid's signature checked with SendGrid's own verifier, as a receiver written for SendGrid does. */
function sendgridValid(h: ReceivedWebhook, publicKey: string): boolean {
  const ew = new EventWebhook();
  return ew.verifySignature(
    ew.convertPublicKeyToECDSA(publicKey),
    h.body,
    String(h.headers[EventWebhookHeader.SIGNATURE().toLowerCase()]),
    String(h.headers[EventWebhookHeader.TIMESTAMP().toLowerCase()]),
  );
}

/** Mailgun's documented check: hex HMAC-SHA256 of timestamp + token with the webhook signing key. */
function mailgunValid(signingKey: string, s: { timestamp: string; token: string; signature: string }): boolean {
  const encodedToken = createHmac('sha256', signingKey).update(s.timestamp.concat(s.token)).digest('hex');
  return encodedToken === s.signature;
}

/** X-Postlog-Signature as the README tells receivers to check it. */
function postlogValid(h: ReceivedWebhook, secret: string): boolean {
  const header = String(h.headers['x-postlog-signature']);
  const t = /(?:^|,)t=(\d+)/.exec(header)?.[1];
  if (!t) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${h.body}`).digest('hex');
  return [...header.matchAll(/v1=([0-9a-f]{64})/g)].some((m) => m[1] === expected);
}

describe('webhook formats: Postal, Postlog, SendGrid, Mailgun, Postmark, Listmonk bodies, each signed its way', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let tenant: Tenant;
  const receivers: WebhookReceiver[] = [];
  const key = () => ({ 'X-Server-API-Key': tenant.apiKey });
  const receiver = async () => {
    const r = await startWebhookReceiver();
    receivers.push(r);
    return r;
  };
  const createEndpoint = async (body: Record<string, unknown>) => {
    const res = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/webhooks`, { body, headers: key() });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as {
      endpoint: { id: string; url: string; format: string; publicKey: string | null };
      secret: string;
    };
  };
  const deliveriesOf = async (endpointId: string) =>
    (await http(t.url, 'GET', `/v2/webhooks/${endpointId}/deliveries`, { headers: key() })).body.deliveries as {
      event: string;
      status: string;
    }[];

  before(async () => {
    const port = await freePort();
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.31', sinkPort, { tls: false });
    t = await startTestApp({
      POSTLOG_HTTP_PORT: String(port),
      POSTLOG_PUBLIC_URL: `http://127.0.0.1:${port}`,
      POSTLOG_ROLES: 'api,mta,projector,tracking',
      POSTLOG_DATA_DIR: tempDataDir('postlog-webhook-formats-'),
      POSTLOG_SMART_HOST: `127.0.0.31:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_WEBHOOK_RETRY_DELAYS: '0.3',
      POSTLOG_WEBHOOK_POLL_MS: '50',
    });
    tenant = await createTenant(t.app, { domain: 'formats.test' });
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
    for (const r of receivers) await r.close();
  });

  it('sends a delivery, a bounce and an open to a receiver of each format, verified with the vendor code', async () => {
    const rx = {
      postal: await receiver(),
      postlog: await receiver(),
      sendgrid: await receiver(),
      mailgun: await receiver(),
      postmark: await receiver(),
      listmonk: await receiver(),
    };
    // Postmark and Listmonk receivers take HTTP Basic credentials from the URL
    const withAuth = (url: string) => url.replace('http://', 'http://hooks:pa%3As%40word@');
    const postal = await createEndpoint({ url: rx.postal.url });
    assert.equal(postal.endpoint.format, 'postal', 'the default');
    const postlog = await createEndpoint({ url: rx.postlog.url, format: 'postlog' });
    const sendgrid = await createEndpoint({ url: rx.sendgrid.url, format: 'sendgrid' });
    const mailgun = await createEndpoint({ url: rx.mailgun.url, format: 'mailgun' });
    const postmark = await createEndpoint({ url: withAuth(rx.postmark.url), format: 'postmark' });
    const listmonk = await createEndpoint({ url: withAuth(rx.listmonk.url), format: 'listmonk' });
    assert.equal(postal.endpoint.publicKey, null);
    assert.match(String(sendgrid.endpoint.publicKey), /^MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE[A-Za-z0-9+/]{86}==$/);

    sink.behaviours.set('gone@example.org', {
      code: 550,
      text: '5.1.1 <gone@example.org>: Recipient address rejected: User unknown',
    });
    const campaign = '2a0f4c4e-59b6-4f3c-9d7e-3c1f1f0e6a11';
    const send = async (to: string, extra: Record<string, unknown>) => {
      const res = await http(t.url, 'POST', '/v2/messages', {
        body: { from: 'news@formats.test', to: [to], subject: 'Formats', text: 'Hi', ...extra },
        headers: key(),
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const id = res.body.messages[0].id as string;
      const view = await http(t.url, 'GET', `/v2/messages/${id}`, { headers: key() });
      sent.set(id, { batch: res.body.batch_id as string, rfcMessageId: view.body.rfcMessageId as string });
      return id;
    };
    /** What the send answered and the Message-ID, by message id: what vendor formats name a message by. */
    const sent = new Map<string, { batch: string; rfcMessageId: string }>();
    const html = '<html><body><p>Hi</p><a href="https://shop.example.com/offer">Offer</a></body></html>';
    const delivered = await send('reader@example.org', {
      html,
      tag: 'newsletter',
      metadata: { customer: 'c-42', 'listmonk-campaign': campaign },
    });
    const bounced = await send('gone@example.org', {
      tag: 'newsletter',
      metadata: { customer: 'c-43', 'listmonk-campaign': campaign },
    });
    const mail = await eventually(
      async () => sink.received.find((m) => m.to.includes('reader@example.org')),
      () => 'the message did not arrive',
    );
    const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec((await PostalMime.parse(mail.raw)).html!)![1]!;
    await eventually(
      async () => (rx.postal.received.some((h) => h.json.event === 'MessageSent') ? true : undefined),
      () => 'no MessageSent reached the Postal receiver',
    );
    assert.equal((await fetch(pixel, { headers: { 'user-agent': HUMAN } })).status, 200);
    // acceptance too where the format has it (processed, accepted, MessageAccepted): never in Postal's
    const wanted = { postal: 3, postlog: 5, sendgrid: 5, mailgun: 5, postmark: 3, listmonk: 1 };
    await eventually(
      async () =>
        Object.entries(wanted).every(([f, n]) => rx[f as keyof typeof rx].received.length >= n) ? true : undefined,
      () =>
        Object.entries(rx)
          .map(([f, r]) => `${f}: ${r.received.map((h) => h.body.slice(0, 60))}`)
          .join('\n'),
      { timeoutMs: 20_000 },
    );
    await sleep(300); // nothing more may come
    for (const [f, n] of Object.entries(wanted)) assert.equal(rx[f as keyof typeof rx].received.length, n, f);

    // postal: today's body and signatures
    const p = rx.postal.received.map(bodyOf);
    assert.deepEqual(p.map((b) => b.event).sort(), ['MessageDeliveryFailed', 'MessageLoaded', 'MessageSent']);
    assert.ok(rx.postal.received.every((h) => h.headers['x-postal-signature-256'] && h.headers['x-postlog-signature']));

    // postlog: its own JSON, X-Postlog-Signature only
    for (const h of rx.postlog.received) {
      assert.ok(postlogValid(h, postlog.secret), 'X-Postlog-Signature verifies');
      assert.equal(h.headers['x-postal-signature-256'], undefined);
      assert.equal(h.headers['x-postal-signature'], undefined);
    }
    assert.deepEqual(
      rx.postlog.received
        .map(bodyOf)
        .map((b) => b.event)
        .sort(),
      ['MessageAccepted', 'MessageAccepted', 'MessageDeliveryFailed', 'MessageLoaded', 'MessageSent'],
    );
    const pl = rx.postlog.received.map(bodyOf).find((b) => b.event === 'MessageSent');
    assert.deepEqual(Object.keys(pl).sort(), [
      'data',
      'event',
      'event_id',
      'id',
      'message',
      'occurred_at',
      'recorded_at',
      'server_id',
    ]);
    assert.equal(pl.message.id, delivered);
    assert.equal(pl.message.tag, 'newsletter');
    assert.deepEqual(pl.message.metadata, { customer: 'c-42', 'listmonk-campaign': campaign });
    assert.equal(pl.server_id, tenant.server.id);
    assert.equal(pl.data.status, 'Sent');
    assert.match(pl.occurred_at, /^\d{4}-\d\d-\d\dT/);

    // sendgrid: an event array, custom args top-level, ECDSA signature verified by @sendgrid/eventwebhook
    for (const h of rx.sendgrid.received) {
      assert.ok(sendgridValid(h, sendgrid.endpoint.publicKey!), 'SendGrid signature verifies');
      assert.equal(
        sendgridValid({ ...h, body: h.body.replace('newsletter', 'Newsletter') }, sendgrid.endpoint.publicKey!),
        false,
      );
    }
    const sg = rx.sendgrid.received.map((h) => bodyOf(h) as Record<string, unknown>[]);
    assert.ok(sg.every((events) => Array.isArray(events) && events.length === 1));
    const sgBy = (e: string) => sg.map((events) => events[0]!).find((x) => x.event === e)!;
    const sgDelivered = sgBy('delivered');
    assert.equal(sgDelivered.email, 'reader@example.org');
    assert.equal(sgDelivered.sg_message_id, `${sent.get(delivered)!.batch}.${delivered}`);
    assert.equal(sgDelivered.customer, 'c-42', 'metadata as top-level custom args');
    assert.deepEqual(sgDelivered.category, ['newsletter']);
    assert.match(String(sgDelivered['smtp-id']), /^<.+@.+>$/);
    assert.match(String(sgDelivered.response), /^250/);
    assert.equal(typeof sgDelivered.timestamp, 'number');
    assert.equal(typeof sgDelivered.sg_event_id, 'string');
    const sgBounce = sgBy('bounce');
    assert.equal(sgBounce.type, 'bounce');
    assert.equal(sgBounce.email, 'gone@example.org');
    assert.equal(sgBounce.status, '5.1.1');
    assert.match(String(sgBounce.reason), /User unknown/);
    assert.equal(sgBounce.customer, 'c-43');
    const sgProcessed = sg.map((events) => events[0]!).filter((x) => x.event === 'processed');
    assert.deepEqual(sgProcessed.map((x) => x.email).sort(), ['gone@example.org', 'reader@example.org']);
    const sgOpen = sgBy('open');
    assert.equal(sgOpen.useragent, HUMAN);
    assert.equal(sgOpen.sg_machine_open, false);
    assert.equal(sgOpen.sg_message_id, `${sent.get(delivered)!.batch}.${delivered}`);

    // mailgun: signature block + event-data, verified the way Mailgun documents
    for (const h of rx.mailgun.received) {
      const b = bodyOf(h);
      assert.deepEqual(Object.keys(b), ['signature', 'event-data']);
      assert.ok(mailgunValid(mailgun.secret, b.signature), 'Mailgun signature verifies');
      assert.equal(mailgunValid('whsec_wrong', b.signature), false);
      assert.ok(Math.abs(Number(b.signature.timestamp) - Date.now() / 1000) < 60);
      assert.match(b.signature.token, /^[0-9a-f]{50}$/);
    }
    const mg = rx.mailgun.received.map((h) => bodyOf(h)['event-data']);
    const mgDelivered = mg.find((e) => e.event === 'delivered');
    assert.equal(mgDelivered.recipient, 'reader@example.org');
    assert.deepEqual(mgDelivered.tags, ['newsletter']);
    assert.deepEqual(mgDelivered['user-variables'], { customer: 'c-42', 'listmonk-campaign': campaign });
    assert.equal(mgDelivered['delivery-status'].code, 250);
    assert.match(mgDelivered.message.headers['message-id'], /^[^<>]+@[^<>]+$/);
    const mgFailed = mg.find((e) => e.event === 'failed');
    assert.equal(mgFailed.severity, 'permanent');
    assert.equal(mgFailed.reason, 'bounce');
    assert.equal(mgFailed['delivery-status'].code, 550);
    assert.match(mgFailed['delivery-status'].message, /User unknown/);
    assert.equal(mg.find((e) => e.event === 'opened')['client-info']['user-agent'], HUMAN);
    assert.equal(mg.filter((e) => e.event === 'accepted').length, 2);

    // postmark: RecordType bodies with Basic auth from the URL
    const basic = `Basic ${Buffer.from('hooks:pa:s@word').toString('base64')}`;
    for (const h of [...rx.postmark.received, ...rx.listmonk.received]) assert.equal(h.headers.authorization, basic);
    const pm = rx.postmark.received.map(bodyOf);
    const pmDelivery = pm.find((b) => b.RecordType === 'Delivery');
    assert.equal(pmDelivery.Recipient, 'reader@example.org');
    assert.equal(pmDelivery.MessageID, sent.get(delivered)!.rfcMessageId, 'what the Postmark API answered');
    assert.equal(pmDelivery.Tag, 'newsletter');
    assert.equal(pmDelivery.Metadata.customer, 'c-42');
    assert.equal(pmDelivery.ServerID, 0);
    const pmBounce = pm.find((b) => b.RecordType === 'Bounce');
    assert.equal(pmBounce.Type, 'HardBounce');
    assert.equal(pmBounce.TypeCode, 1);
    assert.equal(pmBounce.Email, 'gone@example.org');
    assert.equal(pmBounce.MessageID, sent.get(bounced)!.rfcMessageId);
    assert.equal(pmBounce.Inactive, true);
    assert.match(pmBounce.Details, /User unknown/);
    assert.match(pmBounce.BouncedAt, /^\d{4}-\d\d-\d\dT.*Z$/);
    assert.equal(pmBounce.Metadata['X-Listmonk-Campaign'], campaign, "where Listmonk's Postmark handler looks");
    assert.equal(pm.find((b) => b.RecordType === 'Open').UserAgent, HUMAN);

    // listmonk: the bounce only (a delivery and an open have no counterpart and are not even queued)
    assert.deepEqual(bodyOf(rx.listmonk.received[0]!), {
      email: 'gone@example.org',
      campaign_uuid: campaign,
      source: 'postlog',
      type: 'hard',
      meta: bodyOf(rx.listmonk.received[0]!).meta,
    });
    assert.equal(bodyOf(rx.listmonk.received[0]!).meta.message_id, bounced);
    const listmonkLog = await deliveriesOf(listmonk.endpoint.id);
    assert.deepEqual(
      listmonkLog.map((d) => d.event),
      ['MessageDeliveryFailed'],
    );
    // the delivery log keeps the exact body sent (Mailgun's without the per-attempt signature block)
    const pmLog = await deliveriesOf(postmark.endpoint.id);
    assert.equal(pmLog.length, 3);
  });

  it('changes the format through the API; queued deliveries keep theirs; a SendGrid key pair stays', async () => {
    const r = await receiver();
    let open = false;
    r.respond = () => (open ? 200 : 503);
    const { endpoint } = await createEndpoint({ url: r.url, events: ['MessageSent'] });
    const path = `/v2/webhooks/${endpoint.id}`;
    const sendTo = async (to: string) => {
      const res = await http(t.url, 'POST', '/v2/messages', {
        body: { from: 'news@formats.test', to: [to], subject: 'Switched', text: 'Hi' },
        headers: key(),
      });
      assert.equal(res.status, 202);
    };
    // queued in Postal's format, and still failing when the endpoint changes format
    await sendTo('before@example.org');
    await eventually(
      async () => r.received[0],
      () => 'no webhook arrived',
    );

    const bad = await http(t.url, 'PATCH', path, { body: { format: 'sparkpost' }, headers: key() });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
    const toSendgrid = await http(t.url, 'PATCH', path, { body: { format: 'sendgrid' }, headers: key() });
    assert.equal(toSendgrid.status, 200);
    assert.equal(toSendgrid.body.format, 'sendgrid');
    const publicKey = toSendgrid.body.publicKey as string;
    assert.match(publicKey, /^MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/);
    const toMailgun = await http(t.url, 'PATCH', path, { body: { format: 'mailgun' }, headers: key() });
    assert.equal(toMailgun.body.format, 'mailgun');
    const back = await http(t.url, 'PATCH', path, { body: { format: 'sendgrid' }, headers: key() });
    assert.equal(back.body.publicKey, publicKey, 'the key pair stays with the endpoint');
    const got = await http(t.url, 'GET', path, { headers: key() });
    assert.equal(got.body.format, 'sendgrid');

    // the queued delivery goes out as it was made: Postal's body with Postal's signatures
    open = true;
    const retried = await eventually(
      async () => r.received.find((h) => h.answered === 200),
      () => `answered ${r.received.map((h) => h.answered)}`,
    );
    assert.equal(bodyOf(retried).event, 'MessageSent');
    assert.equal(bodyOf(retried).payload.message.to, 'before@example.org');
    assert.ok(retried.headers['x-postal-signature-256']);
    assert.equal(retried.headers['x-twilio-email-event-webhook-signature'], undefined);

    // the next event arrives in the new format, signed with that key
    await sendTo('switched@example.org');
    const hook = await eventually(
      async () => r.received.find((h) => Array.isArray(bodyOf(h))),
      () => 'no SendGrid-format webhook arrived',
    );
    const events = bodyOf(hook);
    assert.equal(events[0].event, 'delivered');
    assert.equal(events[0].email, 'switched@example.org');
    assert.ok(sendgridValid(hook, publicKey));
  });

  it('redacts a Basic auth password in the URL it shows, and keeps it when that URL comes back', async () => {
    const r = await receiver();
    const elsewhere = await receiver();
    const withAuth = r.url.replace('http://', 'http://listmonk:s3cret@');
    const { endpoint } = await createEndpoint({ url: withAuth, format: 'postmark', events: ['MessageSent'] });
    const shown = r.url.replace('http://', 'http://listmonk:********@');
    assert.equal(endpoint.url, shown);
    const path = `/v2/webhooks/${endpoint.id}`;
    assert.equal((await http(t.url, 'GET', path, { headers: key() })).body.url, shown);
    const list = await http(t.url, 'GET', `/v2/servers/${tenant.server.id}/webhooks`, { headers: key() });
    assert.ok(!JSON.stringify(list.body).includes('s3cret'));
    const sendTo = async (to: string) => {
      const res = await http(t.url, 'POST', '/v2/messages', {
        body: { from: 'news@formats.test', to: [to], subject: 'Auth', text: 'Hi' },
        headers: key(),
      });
      assert.equal(res.status, 202);
    };
    const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

    // pointed at another host, the redacted password stays redacted: the stored one does not follow
    const moved = await http(t.url, 'PATCH', path, {
      body: { url: elsewhere.url.replace('http://', 'http://listmonk:********@') },
      headers: key(),
    });
    assert.equal(moved.status, 200);
    await sendTo('elsewhere@example.org');
    const there = await eventually(
      async () => elsewhere.received[0],
      () => 'no webhook arrived elsewhere',
    );
    assert.equal(there.headers.authorization, basic('listmonk:********'));

    // a form saving the URL as shown (same user and origin, another path) keeps the password
    assert.equal((await http(t.url, 'PATCH', path, { body: { url: withAuth }, headers: key() })).status, 200);
    const samePlace = shown.replace('/hooks', '/webhooks/bounce');
    const patched = await http(t.url, 'PATCH', path, { body: { url: samePlace }, headers: key() });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.url, samePlace);
    await sendTo('auth@example.org');
    const hook = await eventually(
      async () => r.received[0],
      () => 'no webhook arrived',
    );
    assert.equal(hook.headers.authorization, basic('listmonk:s3cret'));
    assert.equal(bodyOf(hook).RecordType, 'Delivery');
    assert.equal(bodyOf(hook).Recipient, 'auth@example.org');
  });
});
