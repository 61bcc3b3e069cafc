/**
 * Mailgun's sending API (POST /v3/{domain}/messages and /messages.mime), driven by Mailgun's official
 * client (mailgun.js with form-data) unchanged but for its URL, against a running Postlog whose MTA
 * delivers to a real SMTP sink found through dnsmasq.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import FormData from 'form-data';
import Mailgun from 'mailgun.js';
import PostalMime from 'postal-mime';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, type Tenant, type TestApp } from '../helpers/app.js';
import { startDeliveringApp, type DeliveringApp } from '../helpers/delivering-app.js';
import { dnsmasqAvailable } from '../helpers/dns-server.js';
import type { SmtpSink } from '../helpers/smtp-sink.js';

const MAX_MESSAGE_BYTES = 256 * 1024;
const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';

type Client = ReturnType<InstanceType<typeof Mailgun>['client']>;

interface View {
  id: string;
  status: string;
  tag: string | null;
  metadata: Record<string, string> | null;
  scheduledAt: string | null;
  subject: string;
  to: string;
}

/** The Mailgun client's error, with the status and body Postlog answered. */
async function refusal(promise: Promise<unknown>): Promise<{ status: number; details: string }> {
  try {
    await promise;
  } catch (e) {
    const error = e as { status: number; details: string; type?: string };
    assert.equal(error.type, 'MailgunAPIError', String(e));
    return { status: error.status, details: error.details };
  }
  assert.fail('the request was accepted');
}

describe('Mailgun-compatible API with the official mailgun.js client', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let mg: Client;
  let sink: SmtpSink;
  let app: DeliveringApp;

  const key = () => ({ 'x-server-api-key': tenant.apiKey });
  /** Messages accepted so far (not all events: the MTA appends its own while a test runs). */
  const eventCount = async () =>
    (
      (await t.db.pool.query(`SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted'`)).rows[0] as {
        n: number;
      }
    ).n;
  /** Postlog's messages (ids by recipient) that carry a Message-ID, from their MessageAccepted events. */
  const messagesOf = async (rfcMessageId: string): Promise<Map<string, string>> => {
    const { rows } = await t.db.pool.query(
      `SELECT data->>'messageId' AS id, data->>'to' AS "to" FROM events
        WHERE type = 'MessageAccepted' AND data->>'rfcMessageId' = $1`,
      [rfcMessageId.replace(/^<|>$/g, '')],
    );
    return new Map(rows.map((r: { id: string; to: string }) => [r.to, r.id]));
  };
  const view = async (id: string): Promise<View> =>
    (await http(t.url, 'GET', `/v2/messages/${id}`, { headers: key() })).body;
  const waitFor = async (id: string, statuses: string[]): Promise<View> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = await view(id);
      if (statuses.includes(v.status)) return v;
      if (Date.now() > deadline) throw new Error(`message ${id} is ${v.status}: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const delivered = (to: string) => {
    const mail = sink.received.filter((m) => m.to.includes(to));
    assert.equal(mail.length, 1, `one message delivered to ${to}`);
    return mail[0]!;
  };

  before(async () => {
    // a small message limit, so that an over-large file is cheap to send
    app = await startDeliveringApp({
      domains: ['good.test'],
      env: { POSTLOG_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) },
    });
    ({ t, tenant, sink } = app);
    mg = new Mailgun(FormData).client({ username: 'api', key: tenant.apiKey, url: t.url });
  });
  after(async () => {
    await app?.stop();
  });

  it('sends a multipart message with files, cc, bcc, headers, tags and variables; the sink gets its bytes', async () => {
    const logo = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const answer = await mg.messages.create('sender.test', {
      from: 'Shop <shop@sender.test>',
      to: ['Ann <ann@good.test>', 'bob@good.test'],
      cc: 'carl@good.test',
      bcc: 'dora@good.test',
      subject: 'Your order',
      text: 'Thanks for your order.',
      html: '<p>Thanks for your order.</p><img src="cid:logo.png">',
      attachment: [{ filename: 'invoice.txt', data: Buffer.from('invoice 17\n') }],
      inline: [{ filename: 'logo.png', data: logo }],
      'h:X-Campaign': 'spring',
      'h:Reply-To': 'Help <help@sender.test>',
      'v:order-id': '17',
      'h:X-Mailgun-Variables': JSON.stringify({ customer: 42 }),
      'o:tag': ['orders', 'spring'],
      'o:tracking': 'no',
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.message, 'Queued. Thank you.');
    assert.match(answer.id ?? '', /^<[0-9a-f-]{36}@postlog\.test>$/);

    const ids = await messagesOf(answer.id!);
    assert.deepEqual([...ids.keys()].sort(), ['ann@good.test', 'bob@good.test', 'carl@good.test', 'dora@good.test']);
    for (const [to, id] of ids) {
      const v = await waitFor(id, ['delivered']);
      assert.equal(v.tag, 'orders');
      assert.deepEqual(v.metadata, { 'order-id': '17', customer: '42', 'o:tag': '["orders","spring"]' }, to);
    }
    const history = await http(t.url, 'GET', `/v2/messages/${ids.get('ann@good.test')}/history`, { headers: key() });
    assert.deepEqual(
      history.body.events.map((e: { type: string }) => e.type),
      ['MessageAccepted', 'MessageQueued', 'MessageDelivered'],
    );
    assert.equal(history.body.events[0].data.rfcMessageId, answer.id!.slice(1, -1));
    const raw = delivered('dora@good.test').raw;
    const mail = await PostalMime.parse(raw);
    const ann = await PostalMime.parse(delivered('ann@good.test').raw);
    assert.equal(ann.messageId, mail.messageId, 'recipients of one email share it (and its Message-ID)');
    assert.equal(mail.messageId, answer.id);
    assert.equal(mail.subject, 'Your order');
    assert.equal(mail.from?.address, 'shop@sender.test');
    assert.deepEqual(
      mail.to?.map((a) => [a.name, a.address]),
      [
        ['Ann', 'ann@good.test'],
        ['', 'bob@good.test'],
      ],
    );
    assert.deepEqual(
      mail.cc?.map((a) => a.address),
      ['carl@good.test'],
    );
    assert.equal(mail.bcc, undefined, 'Bcc is not written into the message');
    assert.deepEqual(mail.replyTo?.[0], { name: 'Help', address: 'help@sender.test' });
    assert.equal(mail.headers.find((h) => h.key === 'x-campaign')?.value, 'spring');
    assert.equal(
      mail.headers.find((h) => h.key === 'x-mailgun-variables'),
      undefined,
      'variables are metadata, not a header',
    );
    assert.equal(mail.text?.trim(), 'Thanks for your order.');
    assert.equal(
      mail.html?.trim(),
      '<p>Thanks for your order.</p><img src="cid:logo.png">',
      'not tracked (o:tracking=no)',
    );
    const invoice = mail.attachments.find((a) => a.filename === 'invoice.txt');
    assert.equal(Buffer.from(invoice!.content as ArrayBuffer).toString(), 'invoice 17\n');
    assert.equal(invoice!.disposition, 'attachment');
    const image = mail.attachments.find((a) => a.filename === 'logo.png');
    assert.equal(image?.disposition, 'inline');
    assert.equal(image?.contentId, '<logo.png>');
    assert.deepEqual(Buffer.from(image!.content as ArrayBuffer), logo);
  });

  it('batch-sends with recipient-variables: an email per recipient with its %recipient.name% values', async () => {
    const answer = await mg.messages.create('sender.test', {
      from: 'news@sender.test',
      to: ['eve@good.test', 'Finn <finn@good.test>'],
      subject: 'Hello %recipient.first%',
      text: 'Your code is %recipient.code%.',
      html: '<p>Hi <b>%recipient.first%</b></p>',
      'recipient-variables': JSON.stringify({
        'eve@good.test': { first: 'Eve <3', code: 'E-1' },
        'finn@good.test': { first: 'Finn', code: 2 },
      }),
      'v:user': '%recipient.code%',
      'o:tracking': 'no',
    });
    assert.equal(answer.status, 200);
    const first = await messagesOf(answer.id!);
    assert.deepEqual([...first.keys()], ['eve@good.test'], 'the answer names the first email');
    const expected = [
      {
        to: 'eve@good.test',
        name: '',
        subject: 'Hello Eve <3',
        text: 'Your code is E-1.',
        html: 'Eve &lt;3',
        user: 'E-1',
      },
      { to: 'finn@good.test', name: 'Finn', subject: 'Hello Finn', text: 'Your code is 2.', html: 'Finn', user: '2' },
    ];
    for (const want of expected) {
      const mail = await (async () => {
        const deadline = Date.now() + 20_000;
        while (!sink.received.some((m) => m.to.includes(want.to))) {
          if (Date.now() > deadline) throw new Error(`nothing delivered to ${want.to}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        return PostalMime.parse(delivered(want.to).raw);
      })();
      assert.equal(mail.subject, want.subject);
      assert.equal(mail.text?.trim(), want.text);
      assert.equal(mail.html?.trim(), `<p>Hi <b>${want.html}</b></p>`);
      assert.deepEqual(
        mail.to?.map((a) => [a.name, a.address]),
        [[want.name, want.to]],
        'each sees only themselves',
      );
      const id = (await messagesOf(mail.messageId!)).get(want.to)!;
      assert.deepEqual((await view(id)).metadata, { user: want.user });
    }
  });

  it('sends a server template by alias with t:variables and the user variables as its model', async () => {
    const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/templates`, {
      headers: key(),
      body: { alias: 'receipt', subject: 'Receipt {{order}}', text: 'Dear {{name}}, order {{order}} ({{user}}).' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const answer = await mg.messages.create('sender.test', {
      from: 'shop@sender.test',
      to: 'gus@good.test',
      template: 'receipt',
      't:variables': JSON.stringify({ name: 'Gus', order: 'A-9' }),
      'v:user': 'u-7',
    });
    const id = (await messagesOf(answer.id!)).get('gus@good.test')!;
    const v = await waitFor(id, ['delivered']);
    assert.equal(v.subject, 'Receipt A-9');
    const history = await http(t.url, 'GET', `/v2/messages/${id}/history`, { headers: key() });
    assert.deepEqual(history.body.events[0].data.template, { id: created.body.id, alias: 'receipt', version: 1 });
    const mail = await PostalMime.parse(delivered('gus@good.test').raw);
    assert.equal(mail.text?.trim(), 'Dear Gus, order A-9 (u-7).');

    const updated = await http(t.url, 'PUT', `/v2/templates/${created.body.id}`, {
      headers: key(),
      body: { subject: 'Receipt {{order}} #{{recipient.n}}', text: 'v2 {{name}}' },
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    const numbered = await mg.messages.create('sender.test', {
      from: 'shop@sender.test',
      to: ['jo@good.test', 'kai@good.test'],
      template: 'receipt',
      't:version': '2',
      't:variables': JSON.stringify({ name: 'friend', order: 'C-3' }),
      'recipient-variables': JSON.stringify({ 'jo@good.test': { n: 1 }, 'kai@good.test': { n: 2 } }),
    });
    assert.equal(numbered.status, 200);
    for (const [to, subject] of [
      ['jo@good.test', 'Receipt C-3 #1'],
      ['kai@good.test', 'Receipt C-3 #2'],
    ] as const) {
      const sent = await t.db.pool.query(
        `SELECT data->>'messageId' AS id FROM events WHERE type = 'MessageAccepted' AND data->>'to' = $1`,
        [to],
      );
      const got = await waitFor(sent.rows[0].id, ['delivered']);
      assert.equal(got.subject, subject, 'each recipient renders with its own values as {{recipient.name}}');
    }

    const before = await eventCount();
    const unknown = await refusal(
      mg.messages.create('sender.test', { from: 'shop@sender.test', to: 'x@good.test', template: 'nope' }),
    );
    assert.equal(unknown.status, 400);
    assert.match(unknown.details, /no template nope/);
    const hole = await refusal(
      mg.messages.create('sender.test', { from: 'shop@sender.test', to: 'x@good.test', template: 'receipt' }),
    );
    assert.equal(hole.status, 400);
    assert.match(hole.details, /name|order/);
    assert.equal(await eventCount(), before, 'nothing accepted');
  });

  it('schedules with o:deliverytime, and accepts nothing in o:testmode', async () => {
    const at = new Date(Date.now() + 3_600_000);
    const answer = await mg.messages.create('sender.test', {
      from: 'shop@sender.test',
      to: 'hal@good.test',
      subject: 'Later',
      text: 'later',
      'o:deliverytime': at.toUTCString(),
    });
    const id = (await messagesOf(answer.id!)).get('hal@good.test')!;
    const v = await waitFor(id, ['queued']);
    assert.equal(v.scheduledAt, new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString());

    const before = await eventCount();
    const test = await mg.messages.create('sender.test', {
      from: 'shop@sender.test',
      to: 'ivy@good.test',
      subject: 'Test',
      text: 'test',
      'o:testmode': true,
    });
    assert.equal(test.status, 200);
    assert.equal(test.message, 'Queued. Thank you.');
    assert.equal((await messagesOf(test.id!)).size, 0);
    assert.equal(await eventCount(), before, 'test mode appends nothing');
  });

  it("refuses bad requests in Mailgun's shape, a wrong key and a foreign domain, and accepts nothing", async () => {
    const before = await eventCount();
    const base = { from: 'shop@sender.test', to: 'x@good.test', subject: 'S', text: 'T' };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, from: undefined }, /^from parameter is missing$/],
      [{ ...base, to: 'not an address' }, /^to parameter is not a valid address/],
      [{ ...base, text: undefined }, /^Need at least one of 'text', 'html' or 'template' parameters specified$/],
      [{ ...base, 'o:sending-ip': '192.0.2.1' }, /^o:sending-ip parameter is not supported by Postlog: /],
      [{ ...base, 'o:dkim': 'no' }, /^o:dkim parameter is not supported by Postlog: /],
      [{ ...base, 'o:require-tls': true }, /^o:require-tls parameter is not supported/],
      [{ ...base, 'amp-html': '<html amp4email></html>' }, /^amp-html parameter is not supported/],
      [{ ...base, 'o:deliverytime': 'tomorrow' }, /^o:deliverytime parameter is not a valid RFC 2822 date/],
      [{ ...base, 'h:Message-Id': '<x@y>' }, /^h:Message-Id parameter is set by Postlog/],
      [{ ...base, 'o:tracking': 'maybe' }, /^o:tracking parameter must be yes or no/],
      [{ ...base, 'x-unknown': '1' }, /^x-unknown parameter is not a Mailgun parameter/],
      [{ ...base, 'recipient-variables': '{"x@good.test": {}}', text: 'Hi %recipient.name%' }, /%recipient\.name%/],
      [{ ...base, from: 'shop@other.test' }, /other\.test is not a verified domain/],
    ];
    for (const [data, message] of cases) {
      const r = await refusal(mg.messages.create('sender.test', data as never));
      assert.equal(r.status, 400, JSON.stringify(data));
      assert.match(r.details, message);
    }
    const wrongKey = new Mailgun(FormData).client({ username: 'api', key: 'wrong', url: t.url });
    const forbidden = await refusal(wrongKey.messages.create('sender.test', base));
    assert.deepEqual(forbidden, { status: 401, details: 'Forbidden' });
    const foreign = await refusal(mg.messages.create('other.test', base));
    assert.deepEqual(foreign, { status: 404, details: 'Domain not found: other.test' });
    const big = { filename: 'big.bin', data: Buffer.alloc(MAX_MESSAGE_BYTES / 2, 'a') };
    const tooLarge = await refusal(mg.messages.create('sender.test', { ...base, attachment: [big, big, big] }));
    assert.equal(tooLarge.status, 413);
    assert.match(tooLarge.details, /the message is \d+ bytes; the limit is 262144/);
    const overFile = await refusal(
      mg.messages.create('sender.test', { ...base, attachment: { ...big, data: Buffer.alloc(MAX_MESSAGE_BYTES + 1) } }),
    );
    assert.equal(overFile.status, 413);
    assert.match(overFile.details, /^the request is too large: request file too large/, 'the upload is stopped');

    const suspended = await createTenant(t.app, { domain: 'paused.test' });
    const paused = await t.app.tenancy.updateServer(systemActor('test'), suspended.server.id, {
      suspended: true,
      suspendedReason: 'billing',
    });
    assert.ok(paused.ok);
    const client = new Mailgun(FormData).client({ username: 'api', key: suspended.apiKey, url: t.url });
    const refused = await refusal(client.messages.create('paused.test', { ...base, from: 'a@paused.test' }));
    assert.deepEqual(refused, { status: 403, details: 'the server is suspended: billing' });
    assert.equal(await eventCount(), before, 'nothing accepted');
  });

  it('sends a MIME message with messages.mime, and takes urlencoded bodies', async () => {
    const mime = [
      'From: Shop <shop@sender.test>',
      'To: Someone <jay@good.test>',
      'Subject: Raw one',
      'Message-ID: <raw-1@sender.test>',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Raw body',
      '',
    ].join('\r\n');
    const answer = await mg.messages.create('sender.test', {
      to: 'jay@good.test, kim@good.test',
      message: Buffer.from(mime),
      'o:tag': 'raw',
      'v:batch': 'b1',
    });
    assert.deepEqual(answer, { status: 200, id: '<raw-1@sender.test>', message: 'Queued. Thank you.' });
    const ids = await messagesOf('raw-1@sender.test');
    assert.deepEqual([...ids.keys()].sort(), ['jay@good.test', 'kim@good.test']);
    const v = await waitFor(ids.get('kim@good.test')!, ['delivered']);
    assert.equal(v.tag, 'raw');
    assert.deepEqual(v.metadata, { batch: 'b1' });
    assert.match(delivered('kim@good.test').raw.toString(), /^Subject: Raw one\r\n[\s\S]*\r\n\r\nRaw body/m);

    const form = new URLSearchParams([
      ['from', 'shop@sender.test'],
      ['to', 'lou@good.test'],
      ['subject', 'Form'],
      ['text', 'urlencoded'],
    ]);
    const auth = `Basic ${Buffer.from(`api:${tenant.apiKey}`).toString('base64')}`;
    const res = await fetch(`${t.url}/v3/sender.test/messages`, {
      method: 'POST',
      headers: {
        authorization: auth,
        'content-type': 'application/x-www-form-urlencoded',
        'x-request-id': 'mailgun-form-1',
      },
      body: form.toString(),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { id: string; message: string };
    assert.equal(body.message, 'Queued. Thank you.');
    const id = (await messagesOf(body.id)).get('lou@good.test')!;
    const { rows } = await t.db.pool.query(
      `SELECT metadata->>'correlationId' AS c FROM events WHERE stream_id = $1 AND type = 'MessageAccepted'`,
      [`message-${id}`],
    );
    assert.equal(rows[0]?.c, 'mailgun-form-1', "the accepted message carries the request's correlation id");
    await waitFor(id, ['delivered']);
    assert.equal((await PostalMime.parse(delivered('lou@good.test').raw)).text?.trim(), 'urlencoded');

    const json = await fetch(`${t.url}/v3/sender.test/messages`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'shop@sender.test', to: 'x@good.test', subject: 'S', text: 'T' }),
    });
    assert.equal(json.status, 415);
    assert.match(((await json.json()) as { message: string }).message, /multipart\/form-data/);
  });
});
