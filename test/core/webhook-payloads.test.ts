import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deliveryId,
  linkToken,
  webhookBody,
  webhookPayload,
  type MessageEvent,
  type MessageFacts,
} from '../../domain/index.js';

const facts: MessageFacts = {
  messageId: 42,
  token: 'AbCdEfGh12345678',
  rfcMessageId: 'abc@mail.example',
  from: 'app@sender.test',
  to: 'rcpt@example.org',
  subject: 'Hello',
  tag: 'welcome',
  metadata: { user: '7' },
  acceptedAt: '2026-03-01T10:00:00.000Z',
};
const at = '2026-03-01T10:05:00.500Z';
const delivery = {
  attempt: 1,
  mxHost: 'mx.example.org',
  remoteIp: '192.0.2.7',
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  reply: { code: 250, enhancedCode: '2.0.0', text: 'OK queued' },
  durationMs: 1234,
  at,
};

/** Postal's message hash, with exactly its keys (plus our metadata). */
const postalMessage = {
  id: 42,
  token: 'AbCdEfGh12345678',
  direction: 'outgoing',
  message_id: 'abc@mail.example',
  to: 'rcpt@example.org',
  from: 'app@sender.test',
  subject: 'Hello',
  timestamp: Date.parse('2026-03-01T10:00:00.000Z') / 1000,
  spam_status: 'NotChecked',
  tag: 'welcome',
  metadata: { user: '7' },
};
const map = (e: MessageEvent) => webhookPayload(e, facts);

describe("webhook payloads: Postal's events and field names", () => {
  it('MessageDelivered is MessageSent with the delivery hash', () => {
    assert.deepEqual(map({ type: 'MessageDelivered', data: { delivery, at } }), {
      event: 'MessageSent',
      payload: {
        message: postalMessage,
        status: 'Sent',
        details: 'Message for rcpt@example.org accepted by mx.example.org (192.0.2.7)',
        output: '250 2.0.0 OK queued',
        sent_with_ssl: true,
        timestamp: Date.parse(at) / 1000,
        time: 1.23,
      },
    });
  });

  it('a deferral is MessageDelayed (SoftFail); a give-up and a refusal during our session are MessageDeliveryFailed (HardFail)', () => {
    const delayed = map({
      type: 'MessageDeferred',
      data: {
        delivery: { ...delivery, tls: null, reply: { code: 451, text: 'try later' } },
        reason: '451 try later',
        nextAttemptAt: '2026-03-01T10:10:00.000Z',
        at,
      },
    })!;
    assert.equal(delayed.event, 'MessageDelayed');
    assert.equal(delayed.payload.status, 'SoftFail');
    assert.equal(delayed.payload.sent_with_ssl, false);
    assert.equal(delayed.payload.output, '451 try later');
    assert.match(String(delayed.payload.details), /^451 try later\. Will try again at 2026-03-01T10:10:00.000Z\.$/);

    const failed = map({ type: 'MessageFailed', data: { reason: 'gave up after 72 hours', attempts: 9, at } })!;
    assert.equal(failed.event, 'MessageDeliveryFailed');
    assert.deepEqual(failed.payload, {
      message: postalMessage,
      status: 'HardFail',
      details: 'gave up after 72 hours',
      output: null,
      sent_with_ssl: false,
      timestamp: Date.parse(at) / 1000,
      time: null,
    });

    const refused = map({
      type: 'MessageBounced',
      data: {
        kind: 'sync',
        delivery: { ...delivery, reply: { code: 550, text: 'no such user' } },
        diagnostic: '550 no such user',
        classification: 'bad-mailbox',
        suppress: true,
        at,
      },
    })!;
    assert.equal(refused.event, 'MessageDeliveryFailed');
    assert.equal(refused.payload.status, 'HardFail');
    assert.equal(refused.payload.output, '550 no such user');
  });

  it("the message hash carries the scanners' verdict when the server checks its mail", () => {
    const hook = webhookPayload(
      { type: 'MessageDelivered', data: { delivery, at } },
      { ...facts, spamStatus: 'NotSpam' },
    );
    assert.ok(hook);
    assert.equal((hook.payload.message as { spam_status: string }).spam_status, 'NotSpam');
  });

  it('MessageHeld says why', () => {
    const held = map({ type: 'MessageHeld', data: { reason: 'development_mode', at } })!;
    assert.equal(held.event, 'MessageHeld');
    assert.equal(held.payload.status, 'Held');
    assert.equal(held.payload.details, 'Server is in development mode.');
  });

  it('an asynchronous bounce is MessageBounced with original_message and bounce', () => {
    const bounced = map({
      type: 'MessageBounced',
      data: {
        kind: 'async',
        enhancedCode: '5.1.1',
        diagnostic: 'user unknown',
        classification: 'bad-mailbox',
        suppress: true,
        at,
      },
    })!;
    assert.equal(bounced.event, 'MessageBounced');
    assert.deepEqual(Object.keys(bounced.payload).sort(), ['bounce', 'original_message']);
    assert.deepEqual(bounced.payload.original_message, postalMessage);
    const bounce = bounced.payload.bounce as Record<string, unknown>;
    assert.equal(bounce.direction, 'incoming');
    assert.equal(bounce.type, 'hard');
    assert.equal(bounce.enhanced_code, '5.1.1');
    assert.equal(bounce.classification, 'bad-mailbox');
  });

  it("MessageBounced's bounce hash carries the bounce mail's token, Message-ID, From and Subject", () => {
    const bounced = map({
      type: 'MessageBounced',
      data: {
        kind: 'async',
        bounceMessage: {
          token: '0123456789abcdef',
          rfcMessageId: '20260301100000.4A2B1@mx.example.org',
          from: 'MAILER-DAEMON@mx.example.org',
          subject: 'Undelivered Mail Returned to Sender',
        },
        diagnostic: 'user unknown',
        classification: 'bad-mailbox',
        suppress: true,
        at,
      },
    })!;
    const bounce = bounced.payload.bounce as Record<string, unknown>;
    assert.equal(bounce.token, '0123456789abcdef');
    assert.equal(bounce.message_id, '20260301100000.4A2B1@mx.example.org');
    assert.equal(bounce.from, 'MAILER-DAEMON@mx.example.org');
    assert.equal(bounce.subject, 'Undelivered Mail Returned to Sender');
    assert.equal(bounce.to, facts.from, 'the bounce came back to the sender');
    assert.equal(bounce.id, null, 'the bounce mail is not a stored message: it has no message id');
  });

  it("MessageBounced's bounce hash has the id of the incoming message that keeps the bounce mail", () => {
    const bounced = map({
      type: 'MessageBounced',
      data: {
        kind: 'async',
        bounceMessage: { id: '4711', token: '0123456789abcdef', subject: 'Undelivered Mail Returned to Sender' },
        diagnostic: 'user unknown',
        classification: 'bad-mailbox',
        suppress: true,
        at,
      },
    })!;
    const bounce = bounced.payload.bounce as Record<string, unknown>;
    assert.equal(bounce.id, 4711, "a number, as Postal's message ids are");
    assert.equal(bounce.token, '0123456789abcdef');
  });

  it('opens are MessageLoaded and clicks MessageLinkClicked, with url, link token, IP and user agent', () => {
    const loaded = map({
      type: 'MessageOpened',
      data: { ip: '198.51.100.4', userAgent: 'Mail/1.0', machine: false, at },
    })!;
    assert.equal(loaded.event, 'MessageLoaded');
    assert.equal(loaded.payload.ip_address, '198.51.100.4');
    assert.equal(loaded.payload.user_agent, 'Mail/1.0');
    assert.deepEqual(loaded.payload.message, postalMessage);
    const clicked = map({
      type: 'MessageLinkClicked',
      data: { url: 'https://shop.example/x', ip: '198.51.100.4', machine: true, at },
    })!;
    assert.equal(clicked.event, 'MessageLinkClicked');
    assert.equal(clicked.payload.url, 'https://shop.example/x');
    assert.equal(clicked.payload.token, linkToken(facts.token, 'https://shop.example/x'));
    assert.notEqual(
      linkToken(facts.token, 'https://shop.example/y'),
      clicked.payload.token,
      'each link has its own token',
    );
    assert.equal(clicked.payload.user_agent, null);
    assert.equal(clicked.payload.machine, true);
  });

  it("Postlog's own events in the same style; steps receivers do not hear about map to nothing", () => {
    assert.equal(map({ type: 'MessageUnsubscribed', data: { method: 'one-click', at } })!.payload.method, 'one-click');
    assert.equal(
      map({ type: 'MessageComplained', data: { feedbackType: 'abuse', at } })!.payload.feedback_type,
      'abuse',
    );
    assert.equal(map({ type: 'MessageCancelled', data: { by: 'ops', at } })!.event, 'MessageCancelled');
    assert.equal(
      map({ type: 'MessageAutoReplied', data: { subject: 'Out of office', at } })!.payload.subject,
      'Out of office',
    );
    assert.equal(map({ type: 'MessageQueued', data: { dueAt: at, at } }), undefined);
    assert.equal(map({ type: 'MessageReleased', data: { at } }), undefined);
    assert.equal(map({ type: 'MessageContentExpired', data: { retentionDays: 30, at } }), undefined);
  });

  it("the body is Postal's {event, timestamp, payload, uuid}; the uuid is stable per endpoint and event", () => {
    const id = deliveryId('0190c2a4-0000-7000-8000-000000000001', '0190c2a4-0000-7000-8000-000000000002');
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(id, deliveryId('0190c2a4-0000-7000-8000-000000000001', '0190c2a4-0000-7000-8000-000000000002'));
    assert.notEqual(id, deliveryId('0190c2a4-0000-7000-8000-000000000003', '0190c2a4-0000-7000-8000-000000000002'));
    const body = JSON.parse(webhookBody('MessageSent', new Date(at), { a: 1 }, id));
    assert.deepEqual(body, { event: 'MessageSent', timestamp: Date.parse(at) / 1000, payload: { a: 1 }, uuid: id });
  });
});
