/**
 * SendGrid's v3 mail/send on Postlog, driven by SendGrid's own Node client (@sendgrid/mail on
 * @sendgrid/client), unchanged but for its base URL, against a running Postlog whose MTA delivers
 * through real DNS (dnsmasq) to a real SMTP sink. The delivered bytes, the event history and the
 * read API are checked; so are SendGrid's error shape and that a refused request accepts nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import sendGridClient from '@sendgrid/client';
import type { MailDataRequired } from '@sendgrid/helpers/classes/mail.js';
import sendGridMail from '@sendgrid/mail';
import PostalMime from 'postal-mime';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, type Tenant, type TestApp } from '../helpers/app.js';
import { startDeliveringApp, type DeliveringApp } from '../helpers/delivering-app.js';
import { dnsmasqAvailable } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import type { ReceivedMail, SmtpSink } from '../helpers/smtp-sink.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';
/** Small, so that the 413 of a body over the limit is cheap to provoke. */
const MAX_MESSAGE_BYTES = 200_000;

interface SendGridErrorBody {
  errors: { message: string; field: string | null; help: string | null }[];
}

type MailService = typeof sendGridMail;
// the packages export one instance each (and their classes, which their typings leave out): a fresh pair per key
const Client = sendGridClient.constructor as new () => typeof sendGridClient;
const MailService = sendGridMail.constructor as new () => MailService;

/** SendGrid's client as its users set it up, pointed at Postlog. */
function sendGrid(baseUrl: string, apiKey: string): MailService {
  const client = new Client();
  // setApiKey sets SendGrid's own base URL, so the base URL comes after it
  client.setApiKey(apiKey);
  client.setDefaultRequest('baseUrl', baseUrl);
  const mail = new MailService();
  mail.setClient(client);
  return mail;
}

/** The client's answer to a request Postlog should take; a refusal fails with SendGrid's error body. */
async function accepted<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    const body = (e as { response?: { body?: unknown } }).response?.body;
    throw new Error(`refused: ${String(e)} ${JSON.stringify(body)}`);
  }
}

/** The error SendGrid's client throws for a 4xx/5xx answer: its status and SendGrid's body. */
async function refusal(p: Promise<unknown>): Promise<{ code: number; body: SendGridErrorBody }> {
  try {
    await p;
  } catch (e) {
    const error = e as { code?: number; response?: { body?: SendGridErrorBody } };
    assert.ok(error.code && error.response?.body, `a SendGrid ResponseError, not ${String(e)}`);
    return { code: error.code, body: error.response.body };
  }
  throw new Error('the request was accepted');
}

describe('SendGrid v3 mail/send through @sendgrid/mail', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let app: DeliveringApp;
  let sink: SmtpSink;
  let mail: MailService;
  const key = () => ({ 'x-server-api-key': tenant.apiKey });
  /** Messages accepted so far (not all events: the MTA appends its own while a test runs). */
  const eventCount = async () =>
    (await t.db.pool.query(`SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted'`)).rows[0].n as number;
  const delivered = (to: string) =>
    eventually(
      async () => sink.received.find((m) => m.to.includes(to)),
      () => `mail for ${to}; the sink has ${sink.received.map((m) => m.to.join(',')).join(' | ')}`,
    );
  /** The message of a recipient (the read model), with its view and event history. */
  const messageOf = async (to: string) => {
    const id = await eventually(
      async () => {
        const list = await http(t.url, 'GET', `/v2/messages?recipient=${encodeURIComponent(to)}`, { headers: key() });
        return list.body.messages?.[0]?.id as string | undefined;
      },
      () => `a message to ${to} in the list`,
    );
    const view = await eventually(
      async () => {
        const v = await http(t.url, 'GET', `/v2/messages/${id}`, { headers: key() });
        return v.body.status === 'delivered' ? v.body : undefined;
      },
      () => `message ${id} delivered`,
    );
    const history = await http(t.url, 'GET', `/v2/messages/${id}/history`, { headers: key() });
    return { id, view, events: history.body.events as { type: string; data: any; metadata: any }[] };
  };

  before(async () => {
    app = await startDeliveringApp({
      domains: ['inbox.test'],
      sinkHost: '127.0.0.24',
      env: { POSTLOG_PUBLIC_URL: 'http://track.postlog.test', POSTLOG_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) },
    });
    ({ t, tenant, sink } = app);
    mail = sendGrid(t.url, tenant.apiKey);
  });
  after(async () => {
    await app?.stop();
  });

  it('sends each personalization as one email to its to, cc and bcc, with substitutions, attachments and custom args', async () => {
    const pdf = Buffer.from('%PDF-1.4 a small invoice');
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const [response] = await accepted(
      mail.send({
        from: { email: 'shop@sender.test', name: 'The Shöp' },
        replyTo: 'help@sender.test',
        subject: 'Hello -name-',
        text: 'Dear -name-, your code is -code-.',
        html: '<p>Dear <b>-name-</b>, code -code-</p><img src="cid:logo">',
        categories: ['welcome', 'onboarding'],
        customArgs: { campaign: 'spring', user: 'shared' },
        headers: { 'X-Campaign': 'spring-2026' },
        attachments: [
          { content: pdf.toString('base64'), filename: 'invoice.pdf', type: 'application/pdf' },
          {
            content: png.toString('base64'),
            filename: 'logo.png',
            type: 'image/png',
            disposition: 'inline',
            content_id: 'logo',
          },
        ],
        trackingSettings: { clickTracking: { enable: false }, openTracking: { enable: false } },
        personalizations: [
          {
            to: [{ email: 'ann@inbox.test', name: 'Ann Exämple, "Jr"' }, 'bob@inbox.test'],
            cc: 'cyd@inbox.test',
            bcc: 'dan@inbox.test',
            substitutions: { '-name-': 'Ann & Bob', '-code-': 'A-1' },
            customArgs: { user: 'ann' },
          },
          { to: 'eve@inbox.test', substitutions: { '-name-': 'Eve', '-code-': 'E-5' }, headers: { 'X-Row': '2' } },
        ],
        // the client wraps substitution keys in {{ }} unless told otherwise; these keys carry their own
        substitutionWrappers: ['', ''],
      } as MailDataRequired),
    );
    assert.equal(response.statusCode, 202);
    const batchId = response.headers['x-message-id'] as string;
    assert.match(batchId, /^[0-9a-f-]{36}$/, 'X-Message-Id is the batch id');

    const first = await delivered('ann@inbox.test');
    const parsed = await PostalMime.parse(first.raw);
    assert.equal(parsed.subject, 'Hello Ann & Bob');
    assert.equal(parsed.text?.trim(), 'Dear Ann & Bob, your code is A-1.');
    assert.equal(parsed.html?.trim(), '<p>Dear <b>Ann & Bob</b>, code A-1</p><img src="cid:logo">');
    assert.deepEqual(
      parsed.to?.map((a) => [a.address, a.name]),
      [
        ['ann@inbox.test', 'Ann Exämple, "Jr"'],
        ['bob@inbox.test', ''],
      ],
    );
    assert.deepEqual(
      parsed.cc?.map((a) => a.address),
      ['cyd@inbox.test'],
    );
    assert.equal(parsed.from?.name, 'The Shöp');
    assert.deepEqual(
      parsed.replyTo?.map((a) => a.address),
      ['help@sender.test'],
    );
    assert.doesNotMatch(first.raw.toString(), /^Bcc:/im, 'no Bcc header');
    assert.match(first.raw.toString(), /^X-Campaign: spring-2026\r$/m);
    const invoice = parsed.attachments.find((a) => a.filename === 'invoice.pdf');
    assert.ok(invoice, 'the PDF is attached');
    assert.equal(invoice.mimeType, 'application/pdf');
    assert.equal(invoice.disposition, 'attachment');
    assert.deepEqual(Buffer.from(invoice.content as ArrayBuffer), pdf);
    const logo = parsed.attachments.find((a) => a.filename === 'logo.png');
    assert.ok(logo, 'the inline image is there');
    assert.equal(logo.disposition, 'inline');
    assert.match(logo.contentId ?? '', /^<?logo>?$/);
    assert.deepEqual(Buffer.from(logo.content as ArrayBuffer), png);

    // the personalization's recipients share one message: the same Message-ID (and bytes) for each
    const copies: ReceivedMail[] = [];
    for (const to of ['bob@inbox.test', 'cyd@inbox.test', 'dan@inbox.test']) copies.push(await delivered(to));
    for (const copy of copies) assert.equal((await PostalMime.parse(copy.raw)).messageId, parsed.messageId);

    const eve = await PostalMime.parse((await delivered('eve@inbox.test')).raw);
    assert.equal(eve.subject, 'Hello Eve');
    assert.equal(eve.text?.trim(), 'Dear Eve, your code is E-5.');
    assert.notEqual(eve.messageId, parsed.messageId, 'another personalization is another email');
    assert.deepEqual(
      eve.headers.filter((h) => h.key === 'x-row').map((h) => h.value),
      ['2'],
    );

    const ann = await messageOf('ann@inbox.test');
    assert.equal(ann.view.batchId, batchId);
    assert.equal(ann.view.tag, 'welcome', 'the first category is the tag');
    assert.deepEqual(ann.view.metadata, {
      campaign: 'spring',
      user: 'ann',
      sendgrid_categories: '["welcome","onboarding"]',
    });
    assert.equal(ann.view.from, 'shop@sender.test');
    assert.deepEqual(ann.events.map((e) => e.type).slice(0, 2), ['MessageAccepted', 'MessageQueued']);
    assert.ok(ann.events.some((e) => e.type === 'MessageDelivered'));
    assert.equal(ann.events[0]!.metadata.correlationId, response.headers['x-request-id']);
    const eveView = (await messageOf('eve@inbox.test')).view;
    assert.equal(eveView.batchId, batchId, 'one request, one batch');
    assert.deepEqual(eveView.metadata, {
      campaign: 'spring',
      user: 'shared',
      sendgrid_categories: '["welcome","onboarding"]',
    });
  });

  it('renders a Postlog template named by its SendGrid id (the alias) with each dynamic_template_data', async () => {
    const alias = 'd-2b8e3c1a9f4d4e6b8c7a5d3e1f0a9b8c';
    const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/templates`, {
      headers: key(),
      body: { alias, subject: 'Order {{order}}', html: '<p>Hi {{name}}, order {{order}}</p>', text: 'Hi {{name}}' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const [response] = await accepted(
      mail.send({
        from: 'orders@sender.test',
        templateId: alias,
        personalizations: [
          { to: 'tpl1@inbox.test', dynamicTemplateData: { name: 'Tia <3', order: 'A-17' } },
          { to: 'tpl2@inbox.test', dynamicTemplateData: { name: 'Tom', order: 'B-2' } },
        ],
      } as MailDataRequired),
    );
    assert.equal(response.statusCode, 202);
    const one = await PostalMime.parse((await delivered('tpl1@inbox.test')).raw);
    assert.equal(one.subject, 'Order A-17');
    assert.match(one.html ?? '', /^<p>Hi Tia &lt;3, order A-17<\/p>/, 'rendered, with HTML escaping');
    const two = await PostalMime.parse((await delivered('tpl2@inbox.test')).raw);
    assert.equal(two.subject, 'Order B-2');
    const acceptedEvent = (await messageOf('tpl1@inbox.test')).events[0]!;
    assert.deepEqual(acceptedEvent.data.template, { id: created.body.id, alias, version: 1 });

    // a variable the model lacks: SendGrid's 400 naming it, and nothing accepted
    const before = await eventCount();
    const missing = await refusal(
      mail.send({
        from: 'orders@sender.test',
        templateId: alias,
        personalizations: [
          { to: 'tpl3@inbox.test', dynamicTemplateData: { name: 'Ok', order: '1' } },
          { to: 'tpl4@inbox.test', dynamicTemplateData: { name: 'No order' } },
        ],
      } as MailDataRequired),
    );
    assert.equal(missing.code, 400);
    assert.equal(missing.body.errors[0]!.field, 'personalizations.1.dynamic_template_data.order');
    const unknown = await refusal(
      mail.send({ from: 'orders@sender.test', templateId: 'd-00000000000000000000000000000000', to: 'x@inbox.test' }),
    );
    assert.equal(unknown.code, 400);
    assert.equal(unknown.body.errors[0]!.field, 'template_id');
    assert.equal(await eventCount(), before, 'nothing was accepted');
  });

  it('schedules with send_at and turns tracking and subscription tracking on per request', async () => {
    const sendAt = Math.floor(Date.now() / 1000) + 3600;
    const [scheduled] = await mail.send({
      from: 'news@sender.test',
      to: 'later@inbox.test',
      subject: 'Later',
      text: 'later',
      sendAt,
    });
    assert.equal(scheduled.statusCode, 202);
    const id = await eventually(
      async () =>
        (await http(t.url, 'GET', '/v2/messages?recipient=later%40inbox.test', { headers: key() })).body.messages?.[0]
          ?.id as string | undefined,
      () => 'the scheduled message in the list',
    );
    const view = await http(t.url, 'GET', `/v2/messages/${id}`, { headers: key() });
    assert.equal(view.body.scheduledAt, new Date(sendAt * 1000).toISOString());
    assert.equal(sink.received.filter((m) => m.to.includes('later@inbox.test')).length, 0, 'not sent yet');

    const [tracked] = await mail.send({
      from: 'news@sender.test',
      to: 'tracked@inbox.test',
      subject: 'Tracked',
      html: '<p><a href="https://example.com/offer">offer</a></p>',
      trackingSettings: {
        clickTracking: { enable: true },
        openTracking: { enable: true },
        subscriptionTracking: { enable: true },
      },
    });
    assert.equal(tracked.statusCode, 202);
    const raw = (await delivered('tracked@inbox.test')).raw;
    const parsed = await PostalMime.parse(raw);
    assert.match(parsed.html ?? '', /http:\/\/track\.postlog\.test\/t\/c\//, 'the link is tracked');
    assert.match(parsed.html ?? '', /http:\/\/track\.postlog\.test\/t\/o\//, 'the open pixel is there');
    assert.match(raw.toString(), /^List-Unsubscribe:\s+<http:\/\/track\.postlog\.test\/t\/u\//m);
  });

  it("refuses what it cannot do in SendGrid's error shape, and accepts nothing", async () => {
    const before = await eventCount();
    const base = { from: 'shop@sender.test', to: 'no@inbox.test', subject: 'S', text: 'T' };
    const cases: [Record<string, unknown>, string | null, RegExp][] = [
      [{ ...base, subject: undefined }, 'subject', /subject is required/],
      [{ ...base, to: 'not an address' }, 'personalizations.0.to.0.email', /valid address/],
      [{ ...base, asm: { groupId: 42 } }, 'asm', /unsubscribe groups/],
      [{ ...base, sendAt: Math.floor(Date.now() / 1000) + 73 * 3600 }, 'send_at', /72 hours/],
      [{ ...base, ipPoolName: 'elsewhere' }, 'ip_pool_name', /IP pool/],
      [{ ...base, mailSettings: { footer: { enable: true, text: 'f' } } }, 'mail_settings.footer.enable', /footer/],
      // (the client also sends a message's headers as HTTP headers: a harmless one here)
      [{ ...base, headers: { Received: 'from elsewhere' } }, 'headers.Received', /set by Postlog/],
      [
        { ...base, trackingSettings: { subscriptionTracking: { enable: true, text: 'bye' } } },
        'tracking_settings.subscription_tracking.text',
        /List-Unsubscribe/,
      ],
      [
        {
          ...base,
          to: undefined,
          personalizations: [
            { to: 'a@inbox.test', sendAt: Math.floor(Date.now() / 1000) + 60 },
            { to: 'b@inbox.test', sendAt: Math.floor(Date.now() / 1000) + 120 },
          ],
        },
        'personalizations',
        /same send_at/,
      ],
      [
        { ...base, to: undefined, personalizations: [{ to: 'a@inbox.test', cc: 'A@inbox.test' }] },
        'personalizations.0',
        /should be unique between to, cc, and bcc/,
      ],
    ];
    for (const [data, field, message] of cases) {
      const r = await refusal(mail.send(data as unknown as MailDataRequired));
      assert.equal(r.code, 400, JSON.stringify(r.body));
      assert.equal(r.body.errors[0]!.field, field, JSON.stringify(r.body));
      assert.match(r.body.errors[0]!.message, message);
      assert.equal(typeof r.body.errors[0]!.help, 'string');
    }

    // SendGrid's published API, not Postlog's: kept out of the OpenAPI document (schemathesis fuzzes what is in it)
    const openApi = await http(t.url, 'GET', '/docs/json');
    assert.equal(openApi.status, 200);
    assert.ok(Object.keys(openApi.body.paths).includes('/v2/messages'));
    assert.equal(openApi.body.paths['/v3/mail/send'], undefined);

    // what the client itself would never send: not JSON, an unknown field
    const notJson = await http(t.url, 'POST', '/v3/mail/send', {
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
      raw: '{"personalizations": [',
    });
    assert.equal(notJson.status, 400);
    assert.deepEqual(notJson.body, { errors: [{ message: 'Bad Request', field: null, help: null }] });
    const valid = {
      personalizations: [{ to: [{ email: 'a@inbox.test' }] }],
      from: { email: 'shop@sender.test' },
      subject: 's',
      content: [{ type: 'text/plain', value: 'v' }],
    };
    const unknownField = await http(t.url, 'POST', '/v3/mail/send', {
      headers: { authorization: `Bearer ${tenant.apiKey}` },
      body: { ...valid, priority: 'high' },
    });
    assert.equal(unknownField.status, 400);
    assert.equal(unknownField.body.errors[0].field, 'priority');
    // SendGrid's subusers: a Postlog server is named by its own key, not by a header
    const subuser = await http(t.url, 'POST', '/v3/mail/send', {
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'on-behalf-of': 'other-subuser' },
      body: valid,
    });
    assert.equal(subuser.status, 400);
    assert.match(subuser.body.errors[0].message, /On-Behalf-Of/);
    // SendGrid's gzip bodies (for some accounts) are not taken: refused in SendGrid's shape, not misread
    const gzipped = await fetch(`${t.url}/v3/mail/send`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tenant.apiKey}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: gzipSync(JSON.stringify(valid)),
    });
    assert.ok(gzipped.status >= 400 && gzipped.status < 500, String(gzipped.status));
    assert.ok(Array.isArray(((await gzipped.json()) as SendGridErrorBody).errors));

    // a From domain the server has not verified: SendGrid's 403
    const unverified = await refusal(mail.send({ ...base, from: 'someone@elsewhere.test' }));
    assert.equal(unverified.code, 403);
    assert.equal(unverified.body.errors[0]!.field, 'from');

    // over the size limits: 413, for the body and for the composed message
    const big = Buffer.alloc(MAX_MESSAGE_BYTES * 1.5, 7).toString('base64');
    const tooLarge = await refusal(
      mail.send({ ...base, attachments: [{ content: big, filename: 'big.bin', type: 'application/octet-stream' }] }),
    );
    assert.equal(tooLarge.code, 413);
    const composed = Buffer.alloc(MAX_MESSAGE_BYTES * 0.8, 7).toString('base64');
    const tooLargeMessage = await refusal(
      mail.send({
        ...base,
        attachments: [{ content: composed, filename: 'big.bin', type: 'application/octet-stream' }],
      }),
    );
    assert.equal(tooLargeMessage.code, 413);
    assert.equal(await eventCount(), before, 'nothing was accepted');
  });

  it('answers a wrong or missing key with 401, a suspended server with 403, and sandbox mode with 200 accepting nothing', async () => {
    const message = { from: 'shop@sender.test', to: 'sandbox@inbox.test', subject: 'S', text: 'T' };
    const wrong = await refusal(sendGrid(t.url, 'SG.not-a-postlog-key').send(message));
    assert.equal(wrong.code, 401);
    assert.deepEqual(wrong.body, {
      errors: [
        { message: 'The provided authorization grant is invalid, expired, or revoked', field: null, help: null },
      ],
    });
    const none = await http(t.url, 'POST', '/v3/mail/send', { body: {} });
    assert.equal(none.status, 401);
    assert.equal(none.body.errors[0].field, null);
    const other = await createTenant(t.app, { domain: 'suspended.test' });
    await t.app.tenancy.updateServer(systemActor('test'), other.server.id, { suspended: true });
    const suspended = await refusal(sendGrid(t.url, other.apiKey).send({ ...message, from: 'a@suspended.test' }));
    assert.equal(suspended.code, 403);
    assert.match(suspended.body.errors[0]!.message, /^access forbidden/);

    const before = await eventCount();
    const [sandboxed] = await mail.send({ ...message, mailSettings: { sandboxMode: { enable: true } } });
    assert.equal(sandboxed.statusCode, 200);
    const invalid = await refusal(
      mail.send({ ...message, from: 'x@elsewhere.test', mailSettings: { sandboxMode: { enable: true } } }),
    );
    assert.equal(invalid.code, 403, 'sandbox mode still checks the request');
    assert.equal(await eventCount(), before, 'sandbox mode accepts nothing');
  });
});
