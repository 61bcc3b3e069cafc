/**
 * Postmark's email API, spoken to by Postmark's own client (`postmark`'s ServerClient, only its host changed), against
 * a running Postlog whose MTA delivers through dnsmasq to a real SMTP sink.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { ServerClient } from 'postmark';
import { http, type Tenant, type TestApp } from '../helpers/app.js';
import { startDeliveringApp, type DeliveringApp } from '../helpers/delivering-app.js';
import { dnsmasqAvailable } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import type { SmtpSink } from '../helpers/smtp-sink.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';

interface Listed {
  id: string;
  to: string;
  rfcMessageId: string;
  status: string;
}

describe('Postmark-compatible API through the official postmark client', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let app: DeliveringApp;
  let sink: SmtpSink;
  let client: ServerClient;
  const key = () => ({ 'X-Server-API-Key': tenant.apiKey });
  /** Messages accepted so far (not all events: the MTA appends its own while a test runs). */
  const eventCount = async () =>
    (
      (await t.db.pool.query(`SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted'`)).rows[0] as {
        n: number;
      }
    ).n;
  /** The messages of one email, once the read model has them all. */
  const byMessageId = (rfcMessageId: string, count: number): Promise<Listed[]> =>
    eventually(
      async () => {
        const url = `/v2/messages?messageId=${encodeURIComponent(rfcMessageId)}`;
        const listed = (await http(t.url, 'GET', url, { headers: key() })).body.messages as Listed[];
        return listed.length === count ? listed : undefined;
      },
      () => `${count} messages with Message-ID ${rfcMessageId}`,
    );
  const delivered = (rcpt: string, subject: string) =>
    eventually(
      async () => sink.received.find((m) => m.to.includes(rcpt) && m.raw.toString().includes(subject)),
      () => `${rcpt} got ${sink.received.length} messages, none "${subject}"`,
    );
  const postmarkFailure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return e as { name: string; code: number; statusCode: number; message: string };
    }
    throw new Error('the client did not fail');
  };

  before(async () => {
    app = await startDeliveringApp({ domains: ['inbox.test'] });
    ({ t, tenant, sink } = app);
    client = new ServerClient(tenant.apiKey, { useHttps: false, requestHost: new URL(t.url).host });
  });
  after(async () => {
    await app?.stop();
  });

  it('sends one email to To, Cc and Bcc: each recipient gets the same bytes, with tag, metadata and attachments', async () => {
    const sent = await client.sendEmail({
      From: 'Shop <shop@sender.test>',
      To: 'alice@inbox.test, "Doe, Bob" <bob@inbox.test>',
      Cc: 'carol@inbox.test',
      Bcc: 'dave@inbox.test',
      Subject: 'Your receipt',
      HtmlBody: '<p>Thanks!</p><img src="cid:logo">',
      TextBody: 'Thanks!',
      ReplyTo: 'help@sender.test',
      Tag: 'receipt',
      Metadata: { order: '1234' },
      Headers: [{ Name: 'X-Order', Value: '1234' }],
      Attachments: [
        {
          Name: 'receipt.txt',
          Content: Buffer.from('total: 12 EUR').toString('base64'),
          ContentType: 'text/plain',
          ContentID: null,
        },
        {
          Name: 'logo.png',
          Content: Buffer.from('not really a png').toString('base64'),
          ContentType: 'image/png',
          ContentID: 'cid:logo',
        },
      ],
      TrackOpens: false,
      TrackLinks: 'None' as never,
    });
    assert.equal(sent.ErrorCode, 0);
    assert.equal(sent.Message, 'OK');
    assert.equal(sent.To, 'alice@inbox.test, "Doe, Bob" <bob@inbox.test>');
    assert.ok(!Number.isNaN(Date.parse(sent.SubmittedAt)));
    // the MessageID names every recipient's message: it is the email's Message-ID
    const listed = await byMessageId(sent.MessageID, 4);
    assert.deepEqual(listed.map((m) => m.to).sort(), [
      'alice@inbox.test',
      'bob@inbox.test',
      'carol@inbox.test',
      'dave@inbox.test',
    ]);
    for (const m of listed) {
      const view = (await http(t.url, 'GET', `/v2/messages/${m.id}`, { headers: key() })).body;
      assert.equal(view.tag, 'receipt');
      assert.deepEqual(view.metadata, { order: '1234' });
    }

    const mails = await Promise.all(
      ['alice', 'bob', 'carol', 'dave'].map((u) => delivered(`${u}@inbox.test`, 'receipt')),
    );
    const parsed = await PostalMime.parse(mails[0]!.raw);
    assert.equal(parsed.subject, 'Your receipt');
    assert.equal(parsed.messageId, `<${sent.MessageID}>`);
    assert.deepEqual(
      parsed.to?.map((a) => a.address),
      ['alice@inbox.test', 'bob@inbox.test'],
    );
    assert.equal(parsed.to?.[1]?.name, 'Doe, Bob');
    assert.deepEqual(
      parsed.cc?.map((a) => a.address),
      ['carol@inbox.test'],
    );
    assert.equal(parsed.replyTo?.[0]?.address, 'help@sender.test');
    assert.ok(!mails[0]!.raw.toString().includes('dave@inbox.test'), 'Bcc is never written into the headers');
    assert.equal(parsed.headers.find((h) => h.key === 'x-order')?.value, '1234');
    const receipt = parsed.attachments.find((a) => a.filename === 'receipt.txt');
    assert.equal(Buffer.from(receipt!.content as ArrayBuffer).toString(), 'total: 12 EUR');
    const logo = parsed.attachments.find((a) => a.filename === 'logo.png');
    assert.equal(logo?.contentId, '<logo>');
    assert.equal(logo?.disposition, 'inline');
    // one email: all four copies carry the same signature and bytes (only the MTA's own trace headers differ)
    const body = (raw: Buffer) => {
      const text = raw.toString();
      return text.slice(0, text.indexOf('Received: by')) + text.slice(text.indexOf('Received: from api'));
    };
    for (const m of mails.slice(1)) assert.equal(body(m.raw), body(mails[0]!.raw));
  });

  it('answers a batch message by message, and sends only the good ones', async () => {
    const before = await eventCount();
    const answers = await client.sendEmailBatch([
      { From: 'shop@sender.test', To: 'erin@inbox.test', Subject: 'batch one', TextBody: 'one' },
      { From: 'shop@unverified.test', To: 'frank@inbox.test', Subject: 'batch two', TextBody: 'two' },
      { From: 'shop@sender.test', To: 'grace@inbox.test', Subject: 'batch three' } as never,
      { From: 'shop@sender.test', To: 'heidi@inbox.test', Subject: 'batch four', HtmlBody: '<b>four</b>' },
    ]);
    assert.deepEqual(
      answers.map((a) => a.ErrorCode),
      [0, 400, 300, 0],
    );
    assert.match(answers[1]!.Message, /unverified\.test is not a verified domain/);
    assert.match(answers[2]!.Message, /TextBody or HtmlBody/);
    assert.equal(await eventCount(), before + 2, 'two messages accepted, nothing else');
    await delivered('erin@inbox.test', 'batch one');
    await delivered('heidi@inbox.test', 'batch four');
  });

  it('sends with a server template by alias, names a missing variable, and knows no unknown template', async () => {
    const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/templates`, {
      headers: key(),
      body: { alias: 'welcome', subject: 'Welcome {{name}}', html: '<p>Hi {{name}}</p>', text: 'Hi {{name}}' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const sent = await client.sendEmailWithTemplate({
      From: 'shop@sender.test',
      To: 'ivan@inbox.test',
      TemplateAlias: 'welcome',
      TemplateModel: { name: 'Ivan <3' },
    });
    assert.equal(sent.ErrorCode, 0);
    const mail = await PostalMime.parse((await delivered('ivan@inbox.test', 'Welcome Ivan')).raw);
    assert.equal(mail.subject, 'Welcome Ivan <3');
    assert.match(mail.html ?? '', /Hi Ivan &lt;3/);
    const [message] = await byMessageId(sent.MessageID, 1);
    const history = await http(t.url, 'GET', `/v2/messages/${message!.id}/history`, { headers: key() });
    const accepted = history.body.events.find((e: { type: string }) => e.type === 'MessageAccepted');
    assert.deepEqual(accepted.data.template, { id: created.body.id, alias: 'welcome', version: 1 });

    const before = await eventCount();
    const missing = await postmarkFailure(
      client.sendEmailWithTemplate({
        From: 'shop@sender.test',
        To: 'ivan@inbox.test',
        TemplateAlias: 'welcome',
        TemplateModel: {},
      }),
    );
    assert.equal(missing.statusCode, 422);
    assert.equal(missing.code, 300);
    assert.match(missing.message, /name/);
    const unknown = await postmarkFailure(
      client.sendEmailWithTemplate({
        From: 'shop@sender.test',
        To: 'ivan@inbox.test',
        TemplateAlias: 'nope',
        TemplateModel: {},
      }),
    );
    assert.equal(unknown.code, 1101);
    const batch = await client.sendEmailBatchWithTemplates([
      { From: 'shop@sender.test', To: 'judy@inbox.test', TemplateAlias: 'welcome', TemplateModel: { name: 'Judy' } },
      { From: 'shop@sender.test', To: 'judy@inbox.test', TemplateAlias: 'welcome', TemplateModel: {}, InlineCss: true },
    ]);
    assert.deepEqual(
      batch.map((a) => a.ErrorCode),
      [0, 300],
    );
    assert.match(batch[1]!.Message, /InlineCss/);
    assert.equal(await eventCount(), before + 1, 'only the good batch message was accepted');
  });

  it("refuses what Postlog cannot honour with Postmark's errors, and accepts nothing", async () => {
    const before = await eventCount();
    const bad = new ServerClient('not-a-key', { useHttps: false, requestHost: new URL(t.url).host });
    const unauthorized = await postmarkFailure(
      bad.sendEmail({ From: 'shop@sender.test', To: 'x@inbox.test', Subject: 's', TextBody: 't' }),
    );
    assert.equal(unauthorized.statusCode, 401);
    assert.equal(unauthorized.code, 10);
    assert.equal(unauthorized.name, 'InvalidAPIKeyError');

    const refusals: [Record<string, unknown>, number, RegExp][] = [
      [{ TrackLinks: 'TextOnly' }, 300, /TextOnly/],
      [{ MessageStream: 'marketing' }, 1235, /marketing/],
      [{ Surprise: true }, 300, /Surprise|unrecognized/i],
      [{ To: 'not an address' }, 300, /'To'/],
      [{ Headers: [{ Name: 'Message-ID', Value: '<x@y>' }] }, 300, /Message-ID/],
      [{ To: Array.from({ length: 51 }, (_, i) => `r${i}@inbox.test`).join(',') }, 300, /50 recipients/],
    ];
    for (const [change, code, message] of refusals) {
      const failure = await postmarkFailure(
        client.sendEmail({
          From: 'shop@sender.test',
          To: 'x@inbox.test',
          Subject: 's',
          TextBody: 't',
          ...change,
        } as never),
      );
      assert.equal(failure.code, code, `${JSON.stringify(change)}: ${failure.message}`);
      assert.equal(failure.statusCode, 422);
      assert.match(failure.message, message);
    }
    const raw = await fetch(`${t.url}/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-postmark-server-token': tenant.apiKey },
      body: '{"From": ',
    });
    assert.equal(raw.status, 422);
    assert.equal(((await raw.json()) as { ErrorCode: number }).ErrorCode, 402);
    assert.equal(await eventCount(), before, 'nothing was accepted');
  });
});
