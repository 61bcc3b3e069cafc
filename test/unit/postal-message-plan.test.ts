import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageImported } from '../../domain/index.js';
import { keepsBody, plannedMessage, postalMessageKey, type PostalMessage } from '../../domain/postal-import/index.js';

const now = new Date('2026-12-01T00:00:00Z');
const seconds = (iso: string) => Date.parse(iso) / 1000;

const message = (over: Partial<PostalMessage> = {}): PostalMessage => ({
  id: 7,
  serverId: 3,
  scope: 'outgoing',
  rcptTo: 'rcpt@example.org',
  mailFrom: 'hello@example.com',
  subject: 'Hi',
  messageId: '<abc@example.com>',
  token: 'tok123',
  timestamp: seconds('2026-11-28T10:00:00.250Z'),
  status: 'Sent',
  held: false,
  size: 321,
  tag: null,
  spamScore: 0.5,
  hasRaw: true,
  deliveries: [
    {
      status: 'SoftFail',
      code: 451,
      output: '451 later',
      details: null,
      sentWithSsl: false,
      time: 0.42,
      timestamp: seconds('2026-11-28T10:00:01Z'),
    },
    {
      status: 'Sent',
      code: 250,
      output: '250 OK',
      details: 'accepted',
      sentWithSsl: true,
      time: null,
      timestamp: seconds('2026-11-28T10:05:00Z'),
    },
  ],
  loads: 3,
  clicks: 1,
  ...over,
});

describe("postal import: a Postal message as Postlog's MessageImported", () => {
  it('keeps what Postal knew, in the event schema (ids, status, deliveries, counts, times)', () => {
    const planned = plannedMessage(message());
    assert.deepEqual(planned, {
      origin: { system: 'postal', serverId: 3, messageId: 7 },
      direction: 'outgoing',
      from: 'hello@example.com',
      to: 'rcpt@example.org',
      subject: 'Hi',
      rfcMessageId: 'abc@example.com',
      token: 'tok123',
      originStatus: 'Sent',
      status: 'delivered',
      size: 321,
      spamScore: 0.5,
      deliveries: [
        {
          status: 'SoftFail',
          code: 451,
          output: '451 later',
          tls: false,
          durationMs: 420,
          at: '2026-11-28T10:00:01.000Z',
        },
        { status: 'Sent', code: 250, output: '250 OK', details: 'accepted', tls: true, at: '2026-11-28T10:05:00.000Z' },
      ],
      opens: 3,
      clicks: 1,
      acceptedAt: '2026-11-28T10:00:00.250Z',
    });
    const parsed = MessageImported.safeParse({ ...planned, messageId: '1', serverId: 's', at: now.toISOString() });
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    assert.equal(postalMessageKey(3, 7), '3:7');
  });

  it("maps Postal's statuses to Postlog's; a held pending message is held; an unknown one is still on its way", () => {
    const status = (s: string | null, held = false) => plannedMessage(message({ status: s, held })).status;
    assert.deepEqual(
      ['Sent', 'Processed', 'Bounced', 'HardFail', 'Error', 'HoldCancelled', 'Held', 'SoftFail', 'Pending'].map((s) =>
        status(s),
      ),
      ['delivered', 'delivered', 'bounced', 'failed', 'failed', 'cancelled', 'held', 'deferred', 'deferred'],
    );
    assert.equal(status(null, true), 'held');
    assert.equal(plannedMessage(message({ status: null })).originStatus, 'Pending');
    assert.equal(status('Weird'), 'deferred');
    assert.equal(plannedMessage(message({ scope: 'incoming' })).direction, 'incoming');
  });

  it('keeps at most the last 100 deliveries', () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ ...message().deliveries[0]!, code: 400 + (i % 100) }));
    const planned = plannedMessage(message({ deliveries: many }));
    assert.equal(planned.deliveries.length, 100);
    assert.equal(planned.deliveries[0]!.code, 420, 'the first 20 are left out');
  });

  it("keeps the body of a finished outgoing message Postal still holds, within the server's retention", () => {
    const keeps = (over: Partial<PostalMessage>, retentionDays = 30) => {
      const m = message(over);
      return keepsBody(m, plannedMessage(m), now, retentionDays);
    };
    assert.equal(keeps({}), true);
    assert.equal(keeps({}, 2), false, 'older than the retention: expired at once');
    assert.equal(keeps({ hasRaw: false }), false, "Postal's retention removed it");
    assert.equal(keeps({ scope: 'incoming' }), false);
    assert.equal(keeps({ status: 'SoftFail' }), false, 'still being delivered by Postal');
  });
});
