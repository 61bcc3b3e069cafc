import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Models } from 'postmark';
import {
  tenancyWebhookPayload,
  webhookBody,
  webhookFormatters,
  webhookPayload,
  type FormatInput,
  type MessageEvent,
  type MessageFacts,
  type TenancyEvent,
  type WebhookFormat,
} from '../../domain/index.js';

const at = '2026-03-01T10:05:00.000Z';
const facts: MessageFacts = {
  messageId: 77,
  token: 'AbCdEfGhIjKlMnOp',
  rfcMessageId: 'f00@postlog.test',
  from: 'news@shop.test',
  to: 'reader@example.org',
  subject: 'Spring sale',
  tag: 'newsletter',
  metadata: {
    customer: 'c-1',
    'listmonk-campaign': '2a0f4c4e-59b6-4f3c-9d7e-3c1f1f0e6a11',
    'listmonk-subscriber': '9b1d2f1e-3c4a-4b5c-8d6e-7f8091a2b3c4',
  },
  acceptedAt: '2026-03-01T10:00:00.000Z',
};

/** The body a format makes of a message event (undefined: not sent), as the outbox projection builds it. */
function format(f: WebhookFormat, e: MessageEvent, m: MessageFacts | null = facts): string | undefined {
  const hook = webhookPayload(e, facts)!;
  const input: FormatInput = {
    event: hook.event,
    payload: hook.payload,
    message: m,
    serverId: '11111111-2222-4333-8444-555555555555',
    deliveryId: 'd0000000-0000-8000-8000-000000000001',
    eventId: 'e0000000-0000-4000-8000-000000000001',
    recordedAt: new Date(at),
  };
  return webhookFormatters[f](input);
}
const json = (body: string | undefined) => JSON.parse(body!);

const delivered: MessageEvent = {
  type: 'MessageDelivered',
  data: {
    at,
    delivery: {
      attempt: 1,
      at,
      mxHost: 'mx.example.org',
      remoteIp: '192.0.2.7',
      tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
      durationMs: 420,
      reply: { code: 250, enhancedCode: '2.0.0', text: 'OK queued as 1234' },
    },
  },
} as MessageEvent;
const softBounce: MessageEvent = {
  type: 'MessageBounced',
  data: {
    kind: 'async',
    diagnostic: '452 4.2.2 Mailbox full',
    enhancedCode: '4.2.2',
    classification: 'mailbox-full',
    suppress: false,
    at,
  },
} as MessageEvent;
const hardBounce: MessageEvent = {
  type: 'MessageBounced',
  data: {
    kind: 'async',
    diagnostic: '550 5.1.1 User unknown',
    enhancedCode: '5.1.1',
    classification: 'bad-mailbox',
    suppress: true,
    at,
  },
} as MessageEvent;
const accepted = { type: 'MessageAccepted', data: { at } } as unknown as MessageEvent;
const complained: MessageEvent = { type: 'MessageComplained', data: { feedbackType: 'abuse', at } } as MessageEvent;
const clicked: MessageEvent = {
  type: 'MessageLinkClicked',
  data: { url: 'https://shop.test/offer', ip: '198.51.100.4', userAgent: 'UA', machine: false, at },
} as MessageEvent;
const unsubscribed: MessageEvent = { type: 'MessageUnsubscribed', data: { method: 'one-click', at } } as MessageEvent;
const held: MessageEvent = { type: 'MessageHeld', data: { reason: 'suppressed', at } } as MessageEvent;
const cancelled: MessageEvent = { type: 'MessageCancelled', data: { at } } as MessageEvent;

describe('webhook formats', () => {
  it("postal: exactly Postal's body, as endpoints got before formats, and no MessageAccepted", () => {
    const hook = webhookPayload(delivered, facts)!;
    assert.equal(
      format('postal', delivered),
      webhookBody(hook.event, new Date(at), hook.payload, 'd0000000-0000-8000-8000-000000000001'),
    );
    assert.equal(format('postal', accepted), undefined);
    assert.equal(json(format('postlog', accepted)).event, 'MessageAccepted');
    assert.equal(json(format('sendgrid', accepted))[0].event, 'processed');
    assert.equal(json(format('mailgun', accepted))['event-data'].event, 'accepted');
    assert.equal(format('postmark', accepted), undefined);
    assert.equal(format('listmonk', accepted), undefined);
  });

  it("postlog: every event, a server's too, with the message's facts spelled out", () => {
    const body = json(format('postlog', softBounce));
    assert.equal(body.event, 'MessageBounced');
    assert.equal(body.message.id, '77');
    assert.equal(body.message.tag, 'newsletter');
    assert.equal(body.data.bounce.type, 'soft');
    assert.equal('original_message' in body.data, false);
    const server = { serverId: '11111111-2222-4333-8444-555555555555', name: 's', organizationId: 'o' };
    const limit = { type: 'SendLimitExceeded', data: { serverId: server.serverId, volume: 9, limit: 8, at } };
    const hook = tenancyWebhookPayload(limit as TenancyEvent, server)!;
    const input = { ...hook, message: null, serverId: server.serverId, deliveryId: 'd', eventId: 'e' };
    const tenancy = json(webhookFormatters.postlog({ ...input, recordedAt: new Date(at) }));
    assert.equal(tenancy.message, null);
    assert.equal(tenancy.data.limit, 8);
    // the vendor formats have no server events
    for (const f of ['sendgrid', 'mailgun', 'postmark', 'listmonk'] as const)
      assert.equal(webhookFormatters[f]({ ...input, recordedAt: new Date(at) }), undefined, f);
  });

  it('sendgrid: a soft bounce is "blocked", a hard one "bounce"; holds and cancellations are "dropped"', () => {
    const [soft] = json(format('sendgrid', softBounce));
    assert.equal(soft.event, 'bounce');
    assert.equal(soft.type, 'blocked');
    assert.equal(soft.status, '4.2.2');
    assert.equal(json(format('sendgrid', hardBounce))[0].type, 'bounce');
    assert.equal(json(format('sendgrid', held))[0].event, 'dropped');
    assert.match(json(format('sendgrid', held))[0].reason, /suppression list/);
    assert.equal(json(format('sendgrid', cancelled))[0].event, 'dropped');
    assert.equal(json(format('sendgrid', complained))[0].event, 'spamreport');
    assert.equal(json(format('sendgrid', unsubscribed))[0].event, 'unsubscribe');
    const [click] = json(format('sendgrid', clicked));
    assert.deepEqual(
      [click.event, click.url, click.ip, click.useragent],
      ['click', 'https://shop.test/offer', '198.51.100.4', 'UA'],
    );
    // metadata are top-level custom args, and never override SendGrid's own keys
    const clash = { ...facts, metadata: { event: 'forged', email: 'x@y', customer: 'c-1' } };
    const [d] = json(format('sendgrid', delivered, clash));
    assert.deepEqual([d.event, d.email, d.customer], ['delivered', 'reader@example.org', 'c-1']);
    assert.equal(d.timestamp, Date.parse(at) / 1000);
  });

  it('mailgun: a soft bounce fails "temporary", complaints and unsubscribes are theirs; holds are not sent', () => {
    const soft = json(format('mailgun', softBounce))['event-data'];
    assert.deepEqual(
      [soft.event, soft.severity, soft.reason, soft['log-level']],
      ['failed', 'temporary', 'generic', 'warn'],
    );
    assert.equal(soft['delivery-status'].code, 452);
    assert.equal(json(format('mailgun', complained))['event-data'].event, 'complained');
    assert.equal(json(format('mailgun', unsubscribed))['event-data'].event, 'unsubscribed');
    const click = json(format('mailgun', clicked))['event-data'];
    assert.deepEqual([click.event, click.url, click.ip], ['clicked', 'https://shop.test/offer', '198.51.100.4']);
    assert.equal(format('mailgun', held), undefined);
    // the dispatcher puts the signature block in front of this
    assert.ok(format('mailgun', delivered)!.startsWith('{"event-data":{'));
  });

  it("postmark: Postmark's field names (checked against the postmark client's webhook types)", () => {
    const bounceKeys: (keyof Models.BounceWebhook | 'RecordType')[] = [
      'RecordType',
      'ID',
      'Type',
      'TypeCode',
      'Name',
      'Description',
      'MessageStream',
      'MessageID',
      'Tag',
      'ServerID',
      'Details',
      'Email',
      'From',
      'BouncedAt',
      'DumpAvailable',
      'Inactive',
      'CanActivate',
      'Subject',
      'Content',
      'Metadata',
    ];
    const soft = json(format('postmark', softBounce));
    assert.deepEqual(Object.keys(soft).sort(), [...bounceKeys].sort());
    assert.deepEqual([soft.Type, soft.TypeCode, soft.Inactive], ['SoftBounce', 4096, false]);
    const deliveryKeys: (keyof Models.DeliveryWebhook)[] = [
      'RecordType',
      'ServerID',
      'MessageStream',
      'MessageID',
      'Recipient',
      'Tag',
      'DeliveredAt',
      'Details',
      'Metadata',
    ];
    assert.deepEqual(Object.keys(json(format('postmark', delivered))).sort(), [...deliveryKeys].sort());
    const complaintKeys: (keyof Models.SpamComplaintWebhook)[] = [
      ...(bounceKeys as (keyof Models.SpamComplaintWebhook)[]),
    ];
    const complaint = json(format('postmark', complained));
    assert.deepEqual(Object.keys(complaint).sort(), [...complaintKeys].sort());
    assert.deepEqual(
      [complaint.RecordType, complaint.Type, complaint.TypeCode],
      ['SpamComplaint', 'SpamComplaint', 512],
    );
    const clickKeys: (keyof Models.ClickWebhook)[] = [
      'RecordType',
      'MessageStream',
      'MessageID',
      'Tag',
      'Metadata',
      'Recipient',
      'ReceivedAt',
      'Platform',
      'UserAgent',
      'OS',
      'Client',
      'Geo',
      'ClickLocation',
      'OriginalLink',
    ];
    assert.deepEqual(Object.keys(json(format('postmark', clicked))).sort(), [...clickKeys].sort());
    const changeKeys: (keyof Models.SubscriptionChangeWebhook)[] = [
      'RecordType',
      'ServerID',
      'MessageStream',
      'MessageID',
      'Tag',
      'ChangedAt',
      'Recipient',
      'Origin',
      'SuppressSending',
      'SuppressionReason',
      'Metadata',
    ];
    assert.deepEqual(Object.keys(json(format('postmark', unsubscribed))).sort(), [...changeKeys].sort());
    assert.equal(format('postmark', held), undefined);
  });

  it('listmonk: bounces and complaints only, with the campaign and subscriber echoed back', () => {
    assert.deepEqual(json(format('listmonk', softBounce)), {
      email: 'reader@example.org',
      subscriber_uuid: '9b1d2f1e-3c4a-4b5c-8d6e-7f8091a2b3c4',
      campaign_uuid: '2a0f4c4e-59b6-4f3c-9d7e-3c1f1f0e6a11',
      source: 'postlog',
      type: 'soft',
      meta: {
        event: 'MessageBounced',
        event_id: 'e0000000-0000-4000-8000-000000000001',
        message_id: '77',
        rfc_message_id: 'f00@postlog.test',
        diagnostic: '452 4.2.2 Mailbox full',
        enhanced_code: '4.2.2',
      },
    });
    assert.equal(json(format('listmonk', hardBounce)).type, 'hard');
    assert.equal(json(format('listmonk', complained)).type, 'complaint');
    for (const e of [delivered, clicked, unsubscribed, held]) assert.equal(format('listmonk', e), undefined, e.type);
    const plain = json(format('listmonk', hardBounce, { ...facts, metadata: null }));
    assert.equal(plain.campaign_uuid, '');
    assert.equal('subscriber_uuid' in plain, false);
  });
});
