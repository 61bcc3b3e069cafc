import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeliveryAttempt } from '../../domain/index.js';
import { decideOutcome } from '../../mta/delivery-outcome.js';
import type { SendOutcome } from '../../mta/smtp/smtp-session.js';

const now = new Date('2026-12-06T12:00:00Z');
const policy = { delaysSeconds: [60, 300, 1800], maxAgeSeconds: 3 * 86_400 };
const delivery = (attempt = 1): DeliveryAttempt => ({
  attempt,
  mxHost: 'mx.example',
  durationMs: 12,
  at: now.toISOString(),
});
const reply = (code: number, text: string, enhancedCode?: string): SendOutcome =>
  ({
    ok: code < 400,
    ...(code < 400 ? {} : { kind: 'reply' as const }),
    reply: { code, text, ...(enhancedCode ? { enhancedCode } : {}) },
  }) as SendOutcome;
const fresh = { acceptedAt: new Date(now.getTime() - 60_000) };
const old = { acceptedAt: new Date(now.getTime() - 4 * 86_400_000) };

describe('delivery outcome: the remote answer as a recorded command', () => {
  const cases: {
    name: string;
    sent: SendOutcome;
    message?: { acceptedAt: Date };
    attempt?: number;
    then: {
      outcome: string;
      command: string;
      suppress?: boolean;
      throttled?: boolean;
      connectionLost?: boolean;
      classification?: string;
    };
  }[] = [
    {
      name: '250 is delivered',
      sent: reply(250, 'ok queued'),
      then: { outcome: 'delivered', command: 'RecordDelivery' },
    },
    {
      name: '550 5.1.1 unknown user: a hard bounce, suppressed',
      sent: reply(550, 'No such user', '5.1.1'),
      then: { outcome: 'bounced', command: 'RecordBounce', suppress: true, classification: 'bad-mailbox' },
    },
    {
      name: '554 5.7.1 policy: bounced, not suppressed',
      sent: reply(554, 'Message rejected due to local policy', '5.7.1'),
      then: { outcome: 'bounced', command: 'RecordBounce', suppress: false },
    },
    {
      name: '451 temporary: deferred to the next delay',
      sent: reply(451, 'Try again later', '4.3.0'),
      then: { outcome: 'deferred', command: 'RecordDeferral', throttled: false, connectionLost: false },
    },
    {
      name: '421 too many connections: deferred, and the destination slows down',
      sent: reply(421, 'Too many connections from your IP, slow down', '4.7.0'),
      then: { outcome: 'deferred', command: 'RecordDeferral', throttled: true, connectionLost: false },
    },
    {
      name: 'a broken connection: deferred, the session is gone',
      sent: { ok: false, kind: 'connection', error: 'socket closed mid-DATA' },
      then: { outcome: 'deferred', command: 'RecordDeferral', connectionLost: true, throttled: false },
    },
    {
      name: 'a 4xx past the queue lifetime: failed, with the last answer',
      sent: reply(450, 'Mailbox busy', '4.2.1'),
      message: old,
      attempt: 9,
      then: { outcome: 'failed', command: 'RecordFailure', throttled: false, connectionLost: false },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideOutcome(c.sent, delivery(c.attempt), c.message ?? fresh, policy, now);
      assert.equal(d.outcome, c.then.outcome);
      assert.equal(d.command.type, c.then.command);
      if (c.then.suppress !== undefined)
        assert.equal(d.outcome === 'bounced' && d.suppress !== undefined, c.then.suppress);
      if (c.then.throttled !== undefined) assert.equal('throttled' in d && d.throttled, c.then.throttled);
      if (c.then.connectionLost !== undefined)
        assert.equal('connectionLost' in d && d.connectionLost, c.then.connectionLost);
      if (c.then.classification)
        assert.equal((d.command as { classification?: string }).classification, c.then.classification);
      if (d.command.type === 'RecordDeferral')
        assert.ok(new Date(d.command.nextAttemptAt as string) > now, 'a later attempt');
      if (d.command.type === 'RecordFailure') assert.match(d.command.reason, /last answer: 450 4\.2\.1 Mailbox busy/);
    });
  }
});
