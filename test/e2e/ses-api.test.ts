/**
 * Amazon SES v2's SendEmail, spoken to by the AWS SDK's own client (`@aws-sdk/client-sesv2`, only its endpoint
 * changed) signing with AWS Signature V4 against a Postlog `ses` credential; the MTA delivers through dnsmasq to a
 * real SMTP sink.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SendEmailCommand, SESv2Client, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import PostalMime from 'postal-mime';
import { systemActor } from '../../domain/index.js';
import { http, type Tenant, type TestApp } from '../helpers/app.js';
import { startDeliveringApp, type DeliveringApp } from '../helpers/delivering-app.js';
import { dnsmasqAvailable } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import type { SmtpSink } from '../helpers/smtp-sink.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';

describe('SES v2-compatible API through the official AWS SDK client (SigV4)', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let app: DeliveringApp;
  let sink: SmtpSink;
  let ses: SESv2Client;
  let keys: { accessKeyId: string; secretAccessKey: string };
  const key = () => ({ 'X-Server-API-Key': tenant.apiKey });
  const clientWith = (credentials: { accessKeyId: string; secretAccessKey: string }, region = 'eu-west-1') =>
    new SESv2Client({ endpoint: t.url, region, credentials, maxAttempts: 1 });
  /** Messages accepted so far (not all events: the MTA appends its own while a test runs). */
  const eventCount = async () =>
    (
      (await t.db.pool.query(`SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted'`)).rows[0] as {
        n: number;
      }
    ).n;
  const delivered = (rcpt: string, subject: string) =>
    eventually(
      async () => sink.received.find((m) => m.to.includes(rcpt) && m.raw.toString().includes(subject)),
      () => `${rcpt} got ${sink.received.length} messages, none "${subject}"`,
    );
  const messagesOf = (rfcMessageId: string, count: number) =>
    eventually(
      async () => {
        const url = `/v2/messages?messageId=${encodeURIComponent(rfcMessageId)}`;
        const listed = (await http(t.url, 'GET', url, { headers: key() })).body.messages as {
          id: string;
          to: string;
        }[];
        return listed.length === count ? listed : undefined;
      },
      () => `${count} messages with Message-ID ${rfcMessageId}`,
    );
  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return e as { name: string; message: string; $metadata: { httpStatusCode: number } };
    }
    throw new Error('the client did not fail');
  };
  const simple = (overrides: Partial<SendEmailCommandInput> = {}): SendEmailCommandInput => ({
    FromEmailAddress: 'Shop <shop@sender.test>',
    Destination: { ToAddresses: ['ann@inbox.test'] },
    Content: { Simple: { Subject: { Data: 'Hello' }, Body: { Text: { Data: 'Hi' } } } },
    ...overrides,
  });

  before(async () => {
    app = await startDeliveringApp({ domains: ['inbox.test'] });
    ({ t, tenant, sink } = app);
    const created = await t.app.tenancy.createCredential(systemActor('test'), tenant.server.id, {
      kind: 'ses',
      name: 'aws',
    });
    assert.ok(created.ok, JSON.stringify(created));
    keys = { accessKeyId: created.value.credential.identifier, secretAccessKey: created.value.secret };
    ses = clientWith(keys);
  });
  after(async () => {
    ses?.destroy();
    await app?.stop();
  });

  it('keeps the secret access key sealed at rest', async () => {
    const { rows } = await t.db.pool.query("SELECT * FROM credentials WHERE kind = 'ses'");
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows[0]).includes(keys.secretAccessKey), 'no plaintext secret in the row');
    assert.ok(rows[0].secret_sealed, 'sealed, so that SigV4 can be checked');
  });

  it('sends Simple content with attachments, tags and a configuration set, to To, Cc and Bcc', async () => {
    const sent = await ses.send(
      new SendEmailCommand({
        FromEmailAddress: 'Shop <shop@sender.test>',
        Destination: {
          ToAddresses: ['Ann <ann@inbox.test>'],
          CcAddresses: ['bob@inbox.test'],
          BccAddresses: ['cy@inbox.test'],
        },
        ReplyToAddresses: ['help@sender.test'],
        Content: {
          Simple: {
            Subject: { Data: 'Order shipped ✓', Charset: 'UTF-8' },
            Body: { Text: { Data: 'On its way' }, Html: { Data: '<p>On its way <img src="cid:truck"></p>' } },
            Headers: [{ Name: 'X-Order', Value: '77' }],
            Attachments: [
              { FileName: 'invoice.txt', RawContent: Buffer.from('total 9'), ContentType: 'text/plain' },
              {
                FileName: 'truck.png',
                RawContent: Buffer.from('png bytes'),
                ContentType: 'image/png',
                ContentDisposition: 'INLINE',
                ContentId: 'truck',
              },
            ],
          },
        },
        EmailTags: [{ Name: 'campaign', Value: 'shipping' }],
        ConfigurationSetName: 'transactional',
      }),
    );
    assert.equal(sent.$metadata.httpStatusCode, 200);
    assert.ok(sent.MessageId);
    const listed = await messagesOf(sent.MessageId!, 3);
    assert.deepEqual(listed.map((m) => m.to).sort(), ['ann@inbox.test', 'bob@inbox.test', 'cy@inbox.test']);
    const view = (await http(t.url, 'GET', `/v2/messages/${listed[0]!.id}`, { headers: key() })).body;
    assert.equal(view.tag, 'transactional');
    assert.deepEqual(view.metadata, { campaign: 'shipping' });

    const mail = await delivered('ann@inbox.test', 'On its way');
    const parsed = await PostalMime.parse(mail.raw);
    assert.equal(parsed.subject, 'Order shipped ✓');
    assert.equal(parsed.messageId, `<${sent.MessageId}>`);
    assert.equal(parsed.to?.[0]?.name, 'Ann');
    assert.equal(parsed.cc?.[0]?.address, 'bob@inbox.test');
    assert.equal(parsed.replyTo?.[0]?.address, 'help@sender.test');
    assert.equal(parsed.headers.find((h) => h.key === 'x-order')?.value, '77');
    assert.ok(!mail.raw.toString().includes('cy@inbox.test'), 'Bcc never in the headers');
    const inline = parsed.attachments.find((a) => a.filename === 'truck.png');
    assert.equal(inline?.contentId, '<truck>');
    assert.equal(inline?.disposition, 'inline');
    assert.equal(
      Buffer.from(parsed.attachments.find((a) => a.filename === 'invoice.txt')!.content as ArrayBuffer).toString(),
      'total 9',
    );
    await delivered('cy@inbox.test', 'On its way');
  });

  it('sends Raw content as written (its Message-ID kept), to Destination or to its To and Cc headers', async () => {
    const raw = [
      'From: Shop <shop@sender.test>',
      'To: dee@inbox.test',
      'Cc: eve@inbox.test',
      'Subject: raw hello',
      'Message-ID: <raw-1@sender.test>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Written by the client.',
      '',
    ].join('\r\n');
    const fromHeaders = await ses.send(new SendEmailCommand({ Content: { Raw: { Data: Buffer.from(raw) } } }));
    assert.equal(fromHeaders.MessageId, 'raw-1@sender.test');
    const mail = await delivered('dee@inbox.test', 'raw hello');
    assert.match(mail.raw.toString(), /\r\n\r\nWritten by the client\.\r\n/);
    await delivered('eve@inbox.test', 'raw hello');

    const toDestination = await ses.send(
      new SendEmailCommand({
        Destination: { BccAddresses: ['fay@inbox.test'] },
        Content: { Raw: { Data: Buffer.from(raw.replace('raw hello', 'raw again').replace('raw-1@', 'raw-2@')) } },
      }),
    );
    assert.equal(toDestination.MessageId, 'raw-2@sender.test');
    await delivered('fay@inbox.test', 'raw again');
    await messagesOf('raw-2@sender.test', 1);

    const withBcc = await failure(
      ses.send(new SendEmailCommand({ Content: { Raw: { Data: Buffer.from(`Bcc: x@inbox.test\r\n${raw}`) } } })),
    );
    assert.equal(withBcc.name, 'BadRequestException');
    assert.match(withBcc.message, /Bcc header/);
  });

  it('sends with a server template by TemplateName and TemplateData', async () => {
    const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/templates`, {
      headers: key(),
      body: { alias: 'reset', subject: 'Reset for {{user}}', text: 'Code {{code}}' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const sent = await ses.send(
      new SendEmailCommand({
        FromEmailAddress: 'shop@sender.test',
        Destination: { ToAddresses: ['gus@inbox.test'] },
        Content: { Template: { TemplateName: 'reset', TemplateData: JSON.stringify({ user: 'Gus', code: '4242' }) } },
      }),
    );
    assert.ok(sent.MessageId);
    assert.match((await delivered('gus@inbox.test', 'Reset for Gus')).raw.toString(), /Code 4242/);
    const missing = await failure(
      ses.send(
        new SendEmailCommand({
          FromEmailAddress: 'shop@sender.test',
          Destination: { ToAddresses: ['gus@inbox.test'] },
          Content: { Template: { TemplateName: 'reset', TemplateData: '{"user":"Gus"}' } },
        }),
      ),
    );
    assert.equal(missing.name, 'BadRequestException');
    assert.match(missing.message, /code/);
    const unknown = await failure(
      ses.send(
        new SendEmailCommand({
          FromEmailAddress: 'shop@sender.test',
          Destination: { ToAddresses: ['gus@inbox.test'] },
          Content: { Template: { TemplateName: 'nope', TemplateData: '{}' } },
        }),
      ),
    );
    assert.equal(unknown.name, 'NotFoundException');
    assert.equal(unknown.$metadata.httpStatusCode, 404);
  });

  it("refuses bad signatures and what Postlog cannot honour with SES's errors, accepting nothing", async () => {
    const before = await eventCount();
    const wrongSecret = clientWith({ ...keys, secretAccessKey: `${keys.secretAccessKey.slice(1)}x` });
    const mismatch = await failure(wrongSecret.send(new SendEmailCommand(simple())));
    assert.equal(mismatch.name, 'InvalidSignatureException');
    assert.equal(mismatch.$metadata.httpStatusCode, 403);
    const unknownKey = clientWith({ accessKeyId: 'PLKIUNKNOWNUNKNOWN00', secretAccessKey: keys.secretAccessKey });
    assert.equal((await failure(unknownKey.send(new SendEmailCommand(simple())))).name, 'UnrecognizedClientException');
    const unsigned = await fetch(`${t.url}/v2/email/outbound-emails`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(simple()),
    });
    assert.equal(unsigned.status, 403);
    assert.equal(unsigned.headers.get('x-amzn-errortype'), 'IncompleteSignatureException');
    for (const c of [wrongSecret, unknownKey]) c.destroy();

    const unverified = await failure(ses.send(new SendEmailCommand(simple({ FromEmailAddress: 'x@elsewhere.test' }))));
    assert.equal(unverified.name, 'MessageRejected');
    const refusals: [Partial<SendEmailCommandInput>, RegExp][] = [
      [{ FeedbackForwardingEmailAddress: 'fb@sender.test' }, /FeedbackForwardingEmailAddress is not supported/],
      [{ ListManagementOptions: { ContactListName: 'news' } }, /ListManagementOptions is not supported/],
      [{ Destination: { ToAddresses: ['not an address'] } }, /ToAddresses/],
      [{ Destination: {} }, /at least one recipient/],
      [
        {
          Content: {
            Simple: {
              Subject: { Data: 's' },
              Body: { Text: { Data: 't' } },
              Headers: [{ Name: 'From', Value: 'a@b.test' }],
            },
          },
        },
        /From is set by Postlog/,
      ],
    ];
    for (const [change, message] of refusals) {
      const f = await failure(ses.send(new SendEmailCommand(simple(change))));
      assert.equal(f.name, 'BadRequestException', `${JSON.stringify(change)}: ${f.message}`);
      assert.match(f.message, message);
    }
    assert.equal(await eventCount(), before, 'nothing was accepted');
  });
});
