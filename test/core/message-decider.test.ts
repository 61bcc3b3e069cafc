import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MessageCommand,
  decide,
  evolve,
  foldMessage,
  initialState,
  messageEventCodec,
  type EventOf,
  type MessageCommandInput,
  type MessageErrorCode,
  type MessageEvent,
  type MessageEventType,
  type MessageState,
} from '../../domain/index.js';

/*
 * given(history).when(command).then(events) / .thenError(code)
 *
 * The history is folded with `evolve` from `initialState()`; the command is validated with the
 * MessageCommand schema first (so fixtures are real commands, defaults applied). Every event that
 * `decide` emits is also decoded through `messageEventCodec` and must come back unchanged.
 */

const emittedTypes = new Set<MessageEventType>();

function assertRoundTrips(event: MessageEvent): void {
  const decoded = messageEventCodec.decode(event.type, 1, event.data);
  assert.equal(decoded.ok, true, `${event.type} does not decode: ${JSON.stringify(decoded)}`);
  assert.deepEqual(decoded.ok && decoded.value, event, `${event.type} changes when round-tripped through the codec`);
  emittedTypes.add(event.type);
}

function given(history: MessageEvent[]) {
  const state = history.reduce(evolve, initialState());
  return {
    when(input: MessageCommandInput) {
      const command = MessageCommand.parse(input);
      const result = decide(command, state);
      return {
        then(expected: MessageEvent[]): void {
          assert.equal(result.ok, true, `expected events, got error ${JSON.stringify(!result.ok && result.error)}`);
          assert.deepEqual(result.ok && result.value, expected);
          for (const event of expected) assertRoundTrips(event);
        },
        thenError(code: MessageErrorCode): void {
          assert.equal(result.ok, false, `expected ${code}, got events ${JSON.stringify(result.ok && result.value)}`);
          if (result.ok) return;
          assert.equal(result.error.code, code);
          assert.equal(result.error.status, state.status);
          assert.ok(result.error.message.length > 0);
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T10:01:00.000Z';
const T2 = '2025-03-01T10:05:00.000Z';
const T3 = '2025-03-01T11:00:00.000Z';
const LATER = '2025-03-02T09:00:00.000Z';

const message = {
  messageId: 'msg-1',
  serverId: 'srv-1',
  batchId: 'batch-1',
  rfcMessageId: 'abc123@postlog.test',
  token: 'AbCdEfGh12345678',
  source: 'api' as const,
  from: 'sender@example.com',
  to: 'rcpt@example.org',
  subject: 'Hello',
  tag: 'welcome',
  contentHash: 'a'.repeat(64),
  size: 1234,
};

const attempt = (n: number, code: number, at: string) => ({
  attempt: n,
  mxHost: 'mx.example.org',
  remoteIp: '192.0.2.10',
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  reply: { code, text: code === 250 ? 'OK' : code < 500 ? 'try later' : 'no such user' },
  durationMs: 120,
  at,
});

const ev = {
  accepted: (extra: Partial<EventOf<'MessageAccepted'>['data']> = {}): MessageEvent => ({
    type: 'MessageAccepted',
    data: { ...message, ...extra, at: T0 },
  }),
  held: (reason: EventOf<'MessageHeld'>['data']['reason'] = 'manual', at = T0): MessageEvent => ({
    type: 'MessageHeld',
    data: { reason, at },
  }),
  released: (at = T1): MessageEvent => ({ type: 'MessageReleased', data: { by: 'admin', at } }),
  queued: (dueAt = T0, at = T0): MessageEvent => ({ type: 'MessageQueued', data: { dueAt, at } }),
  deferred: (n = 1, at = T1): MessageEvent => ({
    type: 'MessageDeferred',
    data: { delivery: attempt(n, 451, at), reason: '451 try later', nextAttemptAt: T3, at },
  }),
  delivered: (n = 1, at = T1): MessageEvent => ({
    type: 'MessageDelivered',
    data: { delivery: attempt(n, 250, at), at },
  }),
  syncBounce: (withDelivery = true): MessageEvent => ({
    type: 'MessageBounced',
    data: {
      kind: 'sync',
      ...(withDelivery ? { delivery: attempt(1, 550, T1) } : {}),
      enhancedCode: '5.1.1',
      diagnostic: '550 5.1.1 no such user',
      classification: 'bad-mailbox',
      suppress: true,
      at: T1,
    },
  }),
  asyncBounce: (): MessageEvent => ({
    type: 'MessageBounced',
    data: {
      kind: 'async',
      enhancedCode: '5.2.2',
      diagnostic: 'mailbox full',
      classification: 'mailbox-full',
      suppress: false,
      at: T3,
    },
  }),
  failed: (): MessageEvent => ({ type: 'MessageFailed', data: { reason: 'gave up', attempts: 1, at: T3 } }),
  cancelled: (): MessageEvent => ({ type: 'MessageCancelled', data: { by: 'admin', at: T1 } }),
  opened: (at = T2): MessageEvent => ({ type: 'MessageOpened', data: { ip: '198.51.100.7', machine: false, at } }),
  clicked: (at = T2): MessageEvent => ({
    type: 'MessageLinkClicked',
    data: { url: 'https://example.com/x', machine: false, at },
  }),
  unsubscribed: (): MessageEvent => ({ type: 'MessageUnsubscribed', data: { method: 'one-click', at: T2 } }),
  complained: (): MessageEvent => ({ type: 'MessageComplained', data: { feedbackType: 'abuse', at: T3 } }),
};

/** Histories that `decide` itself can produce, by the status they end in. */
const history = {
  none: [] as MessageEvent[],
  queued: [ev.accepted(), ev.queued()],
  held: [ev.accepted(), ev.held()],
  released: [ev.accepted(), ev.held(), ev.released(), ev.queued(T1, T1)],
  deferred: [ev.accepted(), ev.queued(), ev.deferred()],
  delivered: [ev.accepted(), ev.queued(), ev.delivered()],
  bounced: [ev.accepted(), ev.queued(), ev.syncBounce()],
  failed: [ev.accepted(), ev.queued(), ev.deferred(), ev.failed()],
  cancelled: [ev.accepted(), ev.queued(), ev.cancelled()],
  lateBounced: [ev.accepted(), ev.queued(), ev.delivered(), ev.asyncBounce()],
};

// Commands
const cmd = {
  accept: (extra: Partial<Extract<MessageCommandInput, { type: 'Accept' }>> = {}): MessageCommandInput => ({
    type: 'Accept',
    message,
    at: T0,
    ...extra,
  }),
  hold: (): MessageCommandInput => ({ type: 'Hold', reason: 'manual', detail: 'looks odd', at: T2 }),
  release: (): MessageCommandInput => ({ type: 'Release', by: 'admin', at: T2 }),
  queue: (): MessageCommandInput => ({ type: 'Queue', dueAt: T2, at: T2 }),
  defer: (): MessageCommandInput => ({
    type: 'RecordDeferral',
    delivery: attempt(2, 421, T2),
    reason: '421 busy',
    nextAttemptAt: T3,
    at: T2,
  }),
  deliver: (): MessageCommandInput => ({ type: 'RecordDelivery', delivery: attempt(2, 250, T2), at: T2 }),
  syncBounce: (): MessageCommandInput => ({
    type: 'RecordBounce',
    kind: 'sync',
    delivery: attempt(2, 550, T2),
    enhancedCode: '5.1.1',
    diagnostic: '550 5.1.1 user unknown',
    classification: 'bad-mailbox',
    suppress: true,
    at: T2,
  }),
  asyncBounce: (): MessageCommandInput => ({
    type: 'RecordBounce',
    kind: 'async',
    enhancedCode: '5.7.1',
    diagnostic: 'rejected by policy',
    classification: 'policy',
    suppress: false,
    at: LATER,
  }),
  fail: (): MessageCommandInput => ({ type: 'RecordFailure', reason: 'retries exhausted', at: T3 }),
  cancel: (): MessageCommandInput => ({ type: 'Cancel', by: 'admin', reason: 'sent by mistake', at: T2 }),
  open: (): MessageCommandInput => ({
    type: 'RecordOpen',
    ip: '203.0.113.5',
    userAgent: 'Mail/1.0',
    machine: false,
    at: LATER,
  }),
  click: (): MessageCommandInput => ({
    type: 'RecordClick',
    url: 'https://example.com/offer',
    ip: '203.0.113.5',
    machine: true,
    at: LATER,
  }),
  unsubscribe: (): MessageCommandInput => ({ type: 'RecordUnsubscribe', method: 'link', ip: '203.0.113.5', at: LATER }),
  complain: (): MessageCommandInput => ({ type: 'RecordComplaint', source: 'fbl.example.org', at: LATER }),
};

// Expected events for the commands above
const out = {
  held: (): MessageEvent => ({ type: 'MessageHeld', data: { reason: 'manual', detail: 'looks odd', at: T2 } }),
  queued: (): MessageEvent => ({ type: 'MessageQueued', data: { dueAt: T2, at: T2 } }),
  deferred: (): MessageEvent => ({
    type: 'MessageDeferred',
    data: { delivery: attempt(2, 421, T2), reason: '421 busy', nextAttemptAt: T3, at: T2 },
  }),
  delivered: (): MessageEvent => ({ type: 'MessageDelivered', data: { delivery: attempt(2, 250, T2), at: T2 } }),
  syncBounced: (): MessageEvent => ({
    type: 'MessageBounced',
    data: {
      kind: 'sync',
      delivery: attempt(2, 550, T2),
      enhancedCode: '5.1.1',
      diagnostic: '550 5.1.1 user unknown',
      classification: 'bad-mailbox',
      suppress: true,
      at: T2,
    },
  }),
  asyncBounced: (): MessageEvent => ({
    type: 'MessageBounced',
    data: {
      kind: 'async',
      enhancedCode: '5.7.1',
      diagnostic: 'rejected by policy',
      classification: 'policy',
      suppress: false,
      at: LATER,
    },
  }),
  cancelled: (): MessageEvent => ({
    type: 'MessageCancelled',
    data: { by: 'admin', reason: 'sent by mistake', at: T2 },
  }),
};

// ---------------------------------------------------------------------------------------------

describe('message decider: accepting', () => {
  it('Accept → MessageAccepted + MessageQueued due now', () => {
    given(history.none)
      .when(cmd.accept())
      .then([
        { type: 'MessageAccepted', data: { ...message, at: T0 } },
        { type: 'MessageQueued', data: { dueAt: T0, at: T0 } },
      ]);
  });

  it('Accept applies the schema default for a missing subject', () => {
    const { subject: _subject, tag: _tag, ...bare } = message;
    given(history.none)
      .when({ type: 'Accept', message: bare, at: T0 })
      .then([
        { type: 'MessageAccepted', data: { ...bare, subject: '', at: T0 } },
        { type: 'MessageQueued', data: { dueAt: T0, at: T0 } },
      ]);
  });

  it('Accept with a hold → MessageAccepted + MessageHeld (not queued)', () => {
    given(history.none)
      .when(cmd.accept({ hold: { reason: 'development_mode', detail: 'server in development mode' } }))
      .then([
        { type: 'MessageAccepted', data: { ...message, at: T0 } },
        { type: 'MessageHeld', data: { reason: 'development_mode', detail: 'server in development mode', at: T0 } },
      ]);
  });

  it('a scheduled Accept is queued with scheduledAt as dueAt', () => {
    given(history.none)
      .when(cmd.accept({ message: { ...message, scheduledAt: LATER } }))
      .then([
        { type: 'MessageAccepted', data: { ...message, scheduledAt: LATER, at: T0 } },
        { type: 'MessageQueued', data: { dueAt: LATER, at: T0 } },
      ]);
  });

  it('Accept held by the outbound spam check → MessageAccepted with the check + MessageHeld (spam)', () => {
    const spamCheck = {
      spamStatus: 'Spam' as const,
      spamScore: 1003.3,
      spamThreshold: 5,
      symbols: [
        { name: 'GTUBE', score: 1000 },
        { name: 'MISSING_DATE', score: 2.7 },
      ],
    };
    const detail = 'spam score 1003.3 ≥ 5: GTUBE, MISSING_DATE';
    given(history.none)
      .when(cmd.accept({ message: { ...message, spamCheck }, hold: { reason: 'spam', detail } }))
      .then([
        { type: 'MessageAccepted', data: { ...message, spamCheck, at: T0 } },
        { type: 'MessageHeld', data: { reason: 'spam', detail, at: T0 } },
      ]);
  });

  it('Accept checked and not spam, or unchecked with the scanner down → queued, the check recorded', () => {
    for (const spamCheck of [
      {
        spamStatus: 'NotSpam' as const,
        spamScore: 1.2,
        spamThreshold: 5,
        symbols: [{ name: 'MIME_GOOD', score: -0.1 }],
      },
      { spamStatus: 'NotChecked' as const, failures: ['rspamd: SCANNER_TIMEOUT'] },
    ]) {
      given(history.none)
        .when(cmd.accept({ message: { ...message, spamCheck } }))
        .then([
          { type: 'MessageAccepted', data: { ...message, spamCheck, at: T0 } },
          { type: 'MessageQueued', data: { dueAt: T0, at: T0 } },
        ]);
    }
  });

  it('Accept twice → MESSAGE_ALREADY_EXISTS', () => {
    given(history.queued).when(cmd.accept()).thenError('MESSAGE_ALREADY_EXISTS');
  });

  it('Accept of a finished message → MESSAGE_ALREADY_EXISTS', () => {
    given(history.delivered).when(cmd.accept()).thenError('MESSAGE_ALREADY_EXISTS');
  });
});

describe('message decider: hold and release', () => {
  it('Hold an accepted message → MessageHeld', () => {
    given([ev.accepted()]).when(cmd.hold()).then([out.held()]);
  });

  it('Hold a queued message → MessageHeld', () => {
    given(history.queued).when(cmd.hold()).then([out.held()]);
  });

  it('Hold a deferred message → MessageHeld', () => {
    given(history.deferred).when(cmd.hold()).then([out.held()]);
  });

  it('Hold without detail leaves detail out of the event', () => {
    given(history.queued)
      .when({ type: 'Hold', reason: 'send_limit', at: T2 })
      .then([{ type: 'MessageHeld', data: { reason: 'send_limit', at: T2 } }]);
  });

  it('Hold a held message → MESSAGE_HELD', () => {
    given(history.held).when(cmd.hold()).thenError('MESSAGE_HELD');
  });

  it('Hold a delivered message → MESSAGE_ALREADY_FINAL', () => {
    given(history.delivered).when(cmd.hold()).thenError('MESSAGE_ALREADY_FINAL');
  });

  it('Release a held message → MessageReleased + MessageQueued due now', () => {
    given(history.held)
      .when(cmd.release())
      .then([
        { type: 'MessageReleased', data: { by: 'admin', at: T2 } },
        { type: 'MessageQueued', data: { dueAt: T2, at: T2 } },
      ]);
  });

  it('Release without "by" leaves it out of the event', () => {
    given(history.held)
      .when({ type: 'Release', at: T2 })
      .then([
        { type: 'MessageReleased', data: { at: T2 } },
        { type: 'MessageQueued', data: { dueAt: T2, at: T2 } },
      ]);
  });

  it('a message held on Accept can be released, then delivered', () => {
    const heldOnAccept: MessageEvent[] = [ev.accepted(), ev.held('development_mode')];
    given(heldOnAccept)
      .when(cmd.release())
      .then([
        { type: 'MessageReleased', data: { by: 'admin', at: T2 } },
        { type: 'MessageQueued', data: { dueAt: T2, at: T2 } },
      ]);
    given([...heldOnAccept, ev.released(T2), ev.queued(T2, T2)])
      .when(cmd.deliver())
      .then([out.delivered()]);
  });

  it('Release of a scheduled message before its time keeps the schedule', () => {
    given([ev.accepted({ scheduledAt: LATER }), ev.held('development_mode')])
      .when(cmd.release())
      .then([
        { type: 'MessageReleased', data: { by: 'admin', at: T2 } },
        { type: 'MessageQueued', data: { dueAt: LATER, at: T2 } },
      ]);
  });

  it('Release of a scheduled message after its time queues it now', () => {
    given([ev.accepted({ scheduledAt: T1 }), ev.held('development_mode')])
      .when(cmd.release())
      .then([
        { type: 'MessageReleased', data: { by: 'admin', at: T2 } },
        { type: 'MessageQueued', data: { dueAt: T2, at: T2 } },
      ]);
  });

  it('a send-limit hold is released only by an operator', () => {
    given([ev.accepted(), ev.held('send_limit')])
      .when({ type: 'Release', by: 'tenant', at: T2 })
      .thenError('RELEASE_NOT_ALLOWED');
    given([ev.accepted(), ev.held('send_limit')])
      .when({ type: 'Release', by: 'admin', operator: true, at: T2 })
      .then([
        { type: 'MessageReleased', data: { by: 'admin', at: T2 } },
        { type: 'MessageQueued', data: { dueAt: T2, at: T2 } },
      ]);
  });

  it("a spam hold is the tenant's to release (as in Postal), and the message is queued", () => {
    given([ev.accepted(), ev.held('spam')])
      .when({ type: 'Release', by: 'tenant', at: T2 })
      .then([
        { type: 'MessageReleased', data: { by: 'tenant', at: T2 } },
        { type: 'MessageQueued', data: { dueAt: T2, at: T2 } },
      ]);
  });

  it('Release a queued (not held) message → MESSAGE_NOT_HELD', () => {
    given(history.queued).when(cmd.release()).thenError('MESSAGE_NOT_HELD');
  });

  it('Release a message that was already released → MESSAGE_NOT_HELD', () => {
    given(history.released).when(cmd.release()).thenError('MESSAGE_NOT_HELD');
  });

  it('Release a cancelled message → MESSAGE_ALREADY_FINAL', () => {
    given([ev.accepted(), ev.held(), ev.cancelled()]).when(cmd.release()).thenError('MESSAGE_ALREADY_FINAL');
  });
});

describe('message decider: queueing', () => {
  it('Queue (retry now) a deferred message → MessageQueued', () => {
    given(history.deferred).when(cmd.queue()).then([out.queued()]);
  });

  it('Queue a held message → MESSAGE_HELD', () => {
    given(history.held).when(cmd.queue()).thenError('MESSAGE_HELD');
  });

  it('Queue a bounced message → MESSAGE_ALREADY_FINAL', () => {
    given(history.bounced).when(cmd.queue()).thenError('MESSAGE_ALREADY_FINAL');
  });
});

describe('message decider: delivery attempt outcomes', () => {
  for (const from of ['queued', 'deferred', 'released'] as const) {
    describe(`from ${from}`, () => {
      it('RecordDeferral → MessageDeferred', () => {
        given(history[from]).when(cmd.defer()).then([out.deferred()]);
      });
      it('RecordDelivery → MessageDelivered', () => {
        given(history[from]).when(cmd.deliver()).then([out.delivered()]);
      });
      it('sync RecordBounce → MessageBounced', () => {
        given(history[from]).when(cmd.syncBounce()).then([out.syncBounced()]);
      });
      it('RecordFailure → MessageFailed with the attempts made so far', () => {
        const attempts = foldMessage(history[from]).attempts;
        given(history[from])
          .when(cmd.fail())
          .then([{ type: 'MessageFailed', data: { reason: 'retries exhausted', attempts, at: T3 } }]);
      });
    });
  }

  it('RecordFailure counts every attempt: two deferrals → attempts 2', () => {
    given([...history.deferred, ev.queued(T2, T2), ev.deferred(2, T2)])
      .when(cmd.fail())
      .then([{ type: 'MessageFailed', data: { reason: 'retries exhausted', attempts: 2, at: T3 } }]);
  });

  it('sync bounce without a delivery attempt (e.g. no MX) → MessageBounced without delivery', () => {
    given(history.queued)
      .when({
        type: 'RecordBounce',
        kind: 'sync',
        diagnostic: 'no MX for example.org',
        classification: 'dns',
        suppress: false,
        at: T2,
      })
      .then([
        {
          type: 'MessageBounced',
          data: { kind: 'sync', diagnostic: 'no MX for example.org', classification: 'dns', suppress: false, at: T2 },
        },
      ]);
  });

  const outcomes = ['defer', 'deliver', 'syncBounce', 'fail'] as const;

  for (const outcome of outcomes) {
    it(`${outcome} while held → MESSAGE_HELD`, () => {
      given(history.held).when(cmd[outcome]()).thenError('MESSAGE_HELD');
    });
    it(`${outcome} on an empty stream → MESSAGE_NOT_FOUND`, () => {
      given(history.none).when(cmd[outcome]()).thenError('MESSAGE_NOT_FOUND');
    });
    for (const final of ['delivered', 'bounced', 'failed', 'cancelled'] as const) {
      it(`${outcome} on a ${final} message → MESSAGE_ALREADY_FINAL`, () => {
        given(history[final]).when(cmd[outcome]()).thenError('MESSAGE_ALREADY_FINAL');
      });
    }
    // `decide` always follows MessageAccepted with Queued or Held, so a stream that stops at
    // MessageAccepted only exists if written by something else; the guard must still hold.
    it(`${outcome} on an accepted-but-never-queued stream → MESSAGE_NOT_QUEUED`, () => {
      given([ev.accepted()]).when(cmd[outcome]()).thenError('MESSAGE_NOT_QUEUED');
    });
  }

  it('a deferral right after release-before-queue (Released without Queued) → MESSAGE_NOT_QUEUED', () => {
    given([ev.accepted(), ev.held(), ev.released()]).when(cmd.defer()).thenError('MESSAGE_NOT_QUEUED');
  });
});

describe('message decider: cancelling', () => {
  for (const from of ['queued', 'held', 'deferred', 'released'] as const) {
    it(`Cancel a ${from} message → MessageCancelled`, () => {
      given(history[from]).when(cmd.cancel()).then([out.cancelled()]);
    });
  }

  it('Cancel an accepted message → MessageCancelled', () => {
    given([ev.accepted()]).when(cmd.cancel()).then([out.cancelled()]);
  });

  it('Cancel without by/reason leaves them out of the event', () => {
    given(history.queued)
      .when({ type: 'Cancel', at: T2 })
      .then([{ type: 'MessageCancelled', data: { at: T2 } }]);
  });

  it('delivering a cancelled message → MESSAGE_ALREADY_FINAL', () => {
    given(history.cancelled).when(cmd.deliver()).thenError('MESSAGE_ALREADY_FINAL');
  });

  for (const final of ['delivered', 'bounced', 'failed', 'cancelled'] as const) {
    it(`Cancel a ${final} message → MESSAGE_ALREADY_FINAL`, () => {
      given(history[final]).when(cmd.cancel()).thenError('MESSAGE_ALREADY_FINAL');
    });
  }

  it('Cancel on an empty stream → MESSAGE_NOT_FOUND', () => {
    given(history.none).when(cmd.cancel()).thenError('MESSAGE_NOT_FOUND');
  });
});

describe('message decider: asynchronous bounce (DSN)', () => {
  it('async bounce after delivery → MessageBounced', () => {
    given(history.delivered).when(cmd.asyncBounce()).then([out.asyncBounced()]);
  });

  it('async bounce after delivery and engagement → MessageBounced', () => {
    given([...history.delivered, ev.opened(), ev.clicked()])
      .when(cmd.asyncBounce())
      .then([out.asyncBounced()]);
  });

  it('a second async bounce → MESSAGE_ALREADY_FINAL', () => {
    given(history.lateBounced).when(cmd.asyncBounce()).thenError('MESSAGE_ALREADY_FINAL');
  });

  it('async bounce before delivery → MESSAGE_NOT_DELIVERED', () => {
    given(history.queued).when(cmd.asyncBounce()).thenError('MESSAGE_NOT_DELIVERED');
    given(history.deferred).when(cmd.asyncBounce()).thenError('MESSAGE_NOT_DELIVERED');
  });

  it('async bounce after a sync bounce → MESSAGE_NOT_DELIVERED', () => {
    given(history.bounced).when(cmd.asyncBounce()).thenError('MESSAGE_NOT_DELIVERED');
  });

  it('async bounce on an empty stream → MESSAGE_NOT_FOUND', () => {
    given(history.none).when(cmd.asyncBounce()).thenError('MESSAGE_NOT_FOUND');
  });
});

describe('message decider: engagement', () => {
  it('RecordOpen after delivery → MessageOpened', () => {
    given(history.delivered)
      .when(cmd.open())
      .then([{ type: 'MessageOpened', data: { ip: '203.0.113.5', userAgent: 'Mail/1.0', machine: false, at: LATER } }]);
  });

  it('RecordOpen again → another MessageOpened', () => {
    given([...history.delivered, ev.opened()])
      .when(cmd.open())
      .then([{ type: 'MessageOpened', data: { ip: '203.0.113.5', userAgent: 'Mail/1.0', machine: false, at: LATER } }]);
  });

  it('RecordClick after delivery → MessageLinkClicked', () => {
    given(history.delivered)
      .when(cmd.click())
      .then([
        {
          type: 'MessageLinkClicked',
          data: { url: 'https://example.com/offer', ip: '203.0.113.5', machine: true, at: LATER },
        },
      ]);
  });

  it('RecordUnsubscribe after delivery → MessageUnsubscribed', () => {
    given(history.delivered)
      .when(cmd.unsubscribe())
      .then([{ type: 'MessageUnsubscribed', data: { method: 'link', ip: '203.0.113.5', at: LATER } }]);
  });

  it('a second RecordUnsubscribe → no events', () => {
    given([...history.delivered, ev.unsubscribed()])
      .when(cmd.unsubscribe())
      .then([]);
  });

  it('RecordComplaint after delivery → MessageComplained (feedbackType defaults to abuse)', () => {
    given(history.delivered)
      .when(cmd.complain())
      .then([{ type: 'MessageComplained', data: { feedbackType: 'abuse', source: 'fbl.example.org', at: LATER } }]);
  });

  it('a second RecordComplaint → no events', () => {
    given([...history.delivered, ev.complained()])
      .when(cmd.complain())
      .then([]);
  });

  it('RecordAutoReply after delivery → MessageAutoReplied, and changes no state', () => {
    const command = { type: 'RecordAutoReply' as const, from: 'rcpt@example.org', subject: 'Out of office', at: LATER };
    given(history.delivered)
      .when(command)
      .then([{ type: 'MessageAutoReplied', data: { from: 'rcpt@example.org', subject: 'Out of office', at: LATER } }]);
    const before = foldMessage(history.delivered);
    assert.deepEqual(evolve(before, { type: 'MessageAutoReplied', data: { at: LATER } }), before);
    given(history.queued).when(command).thenError('MESSAGE_NOT_DELIVERED');
  });

  it('ExpireContent after a final outcome or while held → MessageContentExpired, once', () => {
    const command = { type: 'ExpireContent' as const, retentionDays: 30, at: LATER };
    given(history.delivered)
      .when(command)
      .then([{ type: 'MessageContentExpired', data: { retentionDays: 30, at: LATER } }]);
    given(history.held)
      .when(command)
      .then([{ type: 'MessageContentExpired', data: { retentionDays: 30, at: LATER } }]);
    given([...history.delivered, { type: 'MessageContentExpired', data: { retentionDays: 30, at: LATER } }])
      .when(command)
      .then([]);
    assert.equal(
      foldMessage([...history.delivered, { type: 'MessageContentExpired', data: { retentionDays: 30, at: LATER } }])
        .contentExpired,
      true,
    );
  });

  it('ExpireContent of a message still to be delivered → MESSAGE_IN_FLIGHT', () => {
    given(history.queued).when({ type: 'ExpireContent', retentionDays: 30, at: LATER }).thenError('MESSAGE_IN_FLIGHT');
    given(history.deferred)
      .when({ type: 'ExpireContent', retentionDays: 30, at: LATER })
      .thenError('MESSAGE_IN_FLIGHT');
  });

  it('engagement is still recorded after a late (async) bounce', () => {
    given(history.lateBounced)
      .when(cmd.complain())
      .then([{ type: 'MessageComplained', data: { feedbackType: 'abuse', source: 'fbl.example.org', at: LATER } }]);
  });

  const engagements = ['open', 'click', 'unsubscribe', 'complain'] as const;
  for (const engagement of engagements) {
    it(`${engagement} before delivery → MESSAGE_NOT_DELIVERED`, () => {
      for (const from of ['queued', 'held', 'deferred', 'bounced', 'failed', 'cancelled'] as const) {
        given(history[from]).when(cmd[engagement]()).thenError('MESSAGE_NOT_DELIVERED');
      }
    });
    it(`${engagement} on an empty stream → MESSAGE_NOT_FOUND`, () => {
      given(history.none).when(cmd[engagement]()).thenError('MESSAGE_NOT_FOUND');
    });
  }
});

describe('message decider: commands on an empty stream', () => {
  for (const name of ['hold', 'release', 'queue'] as const) {
    it(`${name} → MESSAGE_NOT_FOUND`, () => {
      given(history.none).when(cmd[name]()).thenError('MESSAGE_NOT_FOUND');
    });
  }
});

describe('message decider: decide is pure', () => {
  it('does not modify the state it is given', () => {
    const state = foldMessage(history.deferred);
    const copy = structuredClone(state);
    Object.freeze(state);
    const result = decide(MessageCommand.parse(cmd.deliver()), state);
    assert.equal(result.ok, true);
    assert.deepEqual(state, copy);
  });

  it('returns the same decision for the same command and state', () => {
    const state = foldMessage(history.queued);
    const command = MessageCommand.parse(cmd.defer());
    assert.deepEqual(decide(command, state), decide(command, state));
  });
});

describe('message evolve', () => {
  it('starts from an empty initial state', () => {
    assert.deepEqual(initialState(), {
      status: 'none',
      attempts: 0,
      delivered: false,
      bouncedAfterDelivery: false,
      unsubscribed: false,
      complained: false,
      contentExpired: false,
      opens: 0,
      clicks: 0,
      imported: false,
    } satisfies MessageState);
  });

  it('MessageAccepted records ids and status', () => {
    const state = foldMessage([ev.accepted()]);
    assert.equal(state.status, 'accepted');
    assert.equal(state.messageId, 'msg-1');
    assert.equal(state.serverId, 'srv-1');
  });

  it('tracks the status through hold, release and queue', () => {
    assert.equal(foldMessage([ev.accepted(), ev.held()]).status, 'held');
    assert.equal(foldMessage([ev.accepted(), ev.held(), ev.released()]).status, 'released');
    assert.equal(foldMessage(history.released).status, 'queued');
  });

  it('counts one attempt per deferral and delivery', () => {
    const events = [
      ev.accepted(),
      ev.queued(),
      ev.deferred(1),
      ev.queued(T2, T2),
      ev.deferred(2, T2),
      ev.queued(T3, T3),
      ev.delivered(3, T3),
    ];
    const state = foldMessage(events);
    assert.equal(state.status, 'delivered');
    assert.equal(state.attempts, 3);
    assert.equal(state.delivered, true);
  });

  it('a sync bounce counts an attempt only when it carries one', () => {
    assert.equal(foldMessage([ev.accepted(), ev.queued(), ev.syncBounce(true)]).attempts, 1);
    assert.equal(foldMessage([ev.accepted(), ev.queued(), ev.syncBounce(false)]).attempts, 0);
    assert.equal(foldMessage([ev.accepted(), ev.queued(), ev.syncBounce(false)]).status, 'bounced');
  });

  it('a failure or cancellation adds no attempt', () => {
    assert.equal(foldMessage(history.failed).attempts, 1);
    assert.equal(foldMessage(history.failed).status, 'failed');
    assert.equal(foldMessage(history.cancelled).attempts, 0);
    assert.equal(foldMessage(history.cancelled).status, 'cancelled');
  });

  it('an async bounce marks bouncedAfterDelivery, keeps delivered and adds no attempt', () => {
    const state = foldMessage(history.lateBounced);
    assert.equal(state.status, 'bounced');
    assert.equal(state.bouncedAfterDelivery, true);
    assert.equal(state.delivered, true);
    assert.equal(state.attempts, 1);
  });

  it('counts opens and clicks', () => {
    const state = foldMessage([
      ...history.delivered,
      ev.opened(),
      ev.clicked(),
      ev.opened(),
      ev.clicked(),
      ev.clicked(),
    ]);
    assert.equal(state.opens, 2);
    assert.equal(state.clicks, 3);
    assert.equal(state.status, 'delivered');
  });

  it('sets the unsubscribed and complained flags', () => {
    const state = foldMessage([...history.delivered, ev.unsubscribed(), ev.complained()]);
    assert.equal(state.unsubscribed, true);
    assert.equal(state.complained, true);
    assert.equal(state.status, 'delivered');
  });

  it('does not modify the state it is given', () => {
    const before = foldMessage(history.delivered);
    const copy = structuredClone(before);
    const after = evolve(before, ev.opened());
    assert.deepEqual(before, copy);
    assert.equal(after.opens, 1);
  });
});

describe('message decider: the bounce mail of a late bounce', () => {
  it('RecordBounce (async) with the bounce mail → MessageBounced that keeps it', () => {
    const bounceMessage = {
      token: '0123456789abcdef',
      rfcMessageId: '20260301.4A2B1@mx.example.org',
      from: 'MAILER-DAEMON@mx.example.org',
      subject: 'Undelivered Mail Returned to Sender',
    };
    const { type: _t, ...data } = cmd.asyncBounce() as Extract<MessageCommandInput, { type: 'RecordBounce' }>;
    given(history.delivered)
      .when({ ...cmd.asyncBounce(), bounceMessage } as MessageCommandInput)
      .then([{ type: 'MessageBounced', data: { ...data, bounceMessage } }]);
  });
});

describe('message decider: Redeliver (Postal #712)', () => {
  const redeliver = (): MessageCommandInput => ({ type: 'Redeliver', by: 'admin', at: LATER });
  const requested: MessageEvent = {
    type: 'MessageRedeliveryRequested',
    data: {
      by: 'admin',
      serverId: 'srv-1',
      from: 'sender@example.com',
      to: 'rcpt@example.org',
      token: 'AbCdEfGh12345678',
      contentHash: 'a'.repeat(64),
      at: LATER,
    },
  };
  const requeued: MessageEvent = { type: 'MessageQueued', data: { dueAt: LATER, at: LATER } };

  for (const from of ['delivered', 'failed', 'bounced', 'lateBounced'] as const) {
    it(`given a ${from} message, Redeliver → MessageRedeliveryRequested (what the queue needs), MessageQueued`, () => {
      given(history[from]).when(redeliver()).then([requested, requeued]);
    });
  }

  for (const from of ['queued', 'held', 'released', 'deferred', 'cancelled'] as const) {
    it(`given a ${from} message, Redeliver → MESSAGE_NOT_REDELIVERABLE`, () => {
      given(history[from]).when(redeliver()).thenError('MESSAGE_NOT_REDELIVERABLE');
    });
  }

  it('given no message, Redeliver → MESSAGE_NOT_FOUND', () => {
    given(history.none).when(redeliver()).thenError('MESSAGE_NOT_FOUND');
  });

  it('given a delivered message whose content expired, Redeliver → CONTENT_EXPIRED', () => {
    given([...history.delivered, { type: 'MessageContentExpired', data: { retentionDays: 30, at: T3 } }])
      .when(redeliver())
      .thenError('CONTENT_EXPIRED');
  });

  it('after a redelivery the message is queued again: attempts go on counting, a new outcome can be recorded', () => {
    const again = [...history.lateBounced, requested, requeued];
    const state = foldMessage(again);
    assert.equal(state.status, 'queued');
    assert.equal(state.attempts, 1, 'the first series made one attempt; the next is numbered 2');
    assert.equal(state.delivered, true, 'engagement with the first copy is still possible');
    assert.equal(state.bouncedAfterDelivery, false);
    given(again)
      .when(cmd.deliver())
      .then([{ type: 'MessageDelivered', data: { delivery: attempt(2, 250, T2), at: T2 } }]);
    given([...again, ev.delivered(2, T2)])
      .when(cmd.asyncBounce())
      .then([
        {
          type: 'MessageBounced',
          data: {
            kind: 'async',
            enhancedCode: '5.7.1',
            diagnostic: 'rejected by policy',
            classification: 'policy',
            suppress: false,
            at: LATER,
          },
        },
      ]);
    given(again).when(redeliver()).thenError('MESSAGE_NOT_REDELIVERABLE');
  });

  it('the by field is optional', () => {
    const { by: _by, ...data } = requested.data as EventOf<'MessageRedeliveryRequested'>['data'];
    given(history.failed)
      .when({ type: 'Redeliver', at: LATER })
      .then([{ type: 'MessageRedeliveryRequested', data }, requeued]);
  });
});

describe('message decider: a message imported from Postal', () => {
  const imported = {
    messageId: 'msg-9',
    serverId: 'srv-1',
    origin: { system: 'postal' as const, serverId: 1, messageId: 42 },
    direction: 'outgoing' as const,
    from: 'sender@example.com',
    to: 'rcpt@example.org',
    subject: 'Old news',
    token: 'pOsTaLtOkEn1',
    originStatus: 'Sent',
    status: 'delivered' as const,
    size: 900,
    deliveries: [
      { status: 'SoftFail', code: 451, output: '451 try later', tls: false, at: T0 },
      { status: 'Sent', code: 250, output: '250 OK', tls: true, durationMs: 300, at: T1 },
    ],
    opens: 2,
    clicks: 1,
    contentHash: 'c'.repeat(64),
    acceptedAt: T0,
  };
  const importedEvent: MessageEvent = { type: 'MessageImported', data: { ...imported, at: LATER } };

  it('Import records what Postal knew, once', () => {
    given([]).when({ type: 'Import', message: imported, at: LATER }).then([importedEvent]);
    given([importedEvent]).when({ type: 'Import', message: imported, at: LATER }).thenError('MESSAGE_ALREADY_EXISTS');
  });

  it('the imported state has its status, attempts, engagement and content; it is never delivered again', () => {
    const state = foldMessage([importedEvent]);
    assert.deepEqual(
      [state.status, state.imported, state.attempts, state.delivered, state.deliveredAt, state.opens, state.clicks],
      ['delivered', true, 2, true, T1, 2, 1],
    );
    assert.equal(state.contentExpired, false);
    assert.equal(state.envelope, undefined, 'no envelope: nothing to send again');
    for (const command of [
      { type: 'Redeliver', at: LATER },
      { type: 'Queue', dueAt: LATER, at: LATER },
      { type: 'Cancel', at: LATER },
      { type: 'RecordOpen', machine: false, at: LATER },
    ] as const)
      given([importedEvent]).when(command).thenError('MESSAGE_ALREADY_FINAL');
  });

  it('retention may expire its body whatever its status; one without a body has none to expire', () => {
    const deferred: MessageEvent = {
      type: 'MessageImported',
      data: { ...imported, originStatus: 'SoftFail', status: 'deferred', at: LATER },
    };
    given([deferred])
      .when({ type: 'ExpireContent', retentionDays: 30, at: LATER })
      .then([{ type: 'MessageContentExpired', data: { retentionDays: 30, at: LATER } }]);
    const { contentHash: _gone, ...bodiless } = imported;
    const noBody: MessageEvent = { type: 'MessageImported', data: { ...bodiless, at: LATER } };
    assert.equal(foldMessage([noBody]).contentExpired, true);
    given([noBody]).when({ type: 'ExpireContent', retentionDays: 30, at: LATER }).then([]);
  });
});

describe('message decider: codec round trip', () => {
  // Runs last in this file: the tests above record every event type `decide` emitted.
  it('every event type was emitted by decide and decoded unchanged by messageEventCodec', () => {
    assert.deepEqual([...emittedTypes].sort(), [...messageEventCodec.types].sort());
  });

  it('the fixture events themselves decode unchanged', () => {
    for (const events of Object.values(history)) for (const event of events) assertRoundTrips(event);
  });
});
