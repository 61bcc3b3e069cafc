import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  decideIncoming,
  dispositionFor,
  evolveIncoming,
  IncomingCommand,
  incomingEventCodec,
  initialIncomingState,
  type IncomingCommandInput,
  type IncomingErrorCode,
  type IncomingEvent,
  type IncomingEventType,
  type RoutePolicy,
  scanOf,
} from '../../domain/index.js';

/*
 * given(history).when(command).then(events) / .thenError(code), as for outgoing messages: the
 * history is folded with evolveIncoming, the command parsed with its schema, and every event
 * decided must round-trip through the codec.
 */
const emitted = new Set<IncomingEventType>();

function given(history: IncomingEvent[]) {
  const state = history.reduce(evolveIncoming, initialIncomingState());
  return {
    when(input: IncomingCommandInput) {
      const result = decideIncoming(IncomingCommand.parse(input), state);
      return {
        then(expected: IncomingEvent[]) {
          assert.equal(result.ok, true, JSON.stringify(result));
          if (!result.ok) return;
          for (const e of result.value) {
            const decoded = incomingEventCodec.decode(e.type, 1, e.data);
            assert.deepEqual(decoded.ok && decoded.value, e, `${e.type} round-trips`);
            emitted.add(e.type);
          }
          assert.deepEqual(result.value, expected);
        },
        thenError(code: IncomingErrorCode) {
          assert.equal(result.ok, false, `expected ${code}, got ${JSON.stringify(result)}`);
          if (!result.ok) assert.equal(result.error.code, code);
        },
      };
    },
  };
}

const at = '2026-12-06T10:00:00.000Z';
const later = '2026-12-06T10:05:00.000Z';
const message = {
  messageId: '41',
  serverId: 'srv',
  routeId: 'route-1',
  token: 'AbCdEfGhIjKlMnOp',
  rfcMessageId: 'q1@example.org',
  mailFrom: 'someone@example.org',
  rcptTo: 'support@example.com',
  from: 'Someone <someone@example.org>',
  subject: 'Help',
  contentHash: 'a'.repeat(64),
  size: 120,
  clientIp: '192.0.2.1',
  helo: 'mx.example.org',
  tls: true,
};
const web = { endpointId: 'e1', kind: 'http' as const, target: 'https://app.example.com/in' };
const relay = { endpointId: 'e2', kind: 'smtp' as const, target: 'mail.example.net:25' };
const received: IncomingEvent = { type: 'IncomingReceived', data: { ...message, at } };
const routed = { routeId: 'route-1', contentHash: 'a'.repeat(64) };
const routedBoth: IncomingEvent = { type: 'IncomingRouted', data: { ...routed, endpoints: [web, relay], at } };
const attempt = (endpointId: string, outcome: 'delivered' | 'retry' | 'failed', n = 1): IncomingEvent => ({
  type: 'EndpointAttempted',
  data: {
    endpointId,
    attempt: n,
    outcome,
    code: outcome === 'delivered' ? 200 : 500,
    response: 'r',
    durationMs: 5,
    at: later,
  },
});
const record = (endpointId: string, outcome: 'delivered' | 'retry' | 'failed') => ({
  type: 'RecordEndpointAttempt' as const,
  endpointId,
  outcome,
  code: outcome === 'delivered' ? 200 : 500,
  response: 'r',
  durationMs: 5,
  at: later,
});

describe('incoming message decider', () => {
  it('receives a message and carries out its disposition in the same decision', () => {
    given([])
      .when({ type: 'Receive', message, disposition: { kind: 'route', endpoints: [web, relay] }, at })
      .then([received, routedBoth]);
    given([])
      .when({ type: 'Receive', message, disposition: { kind: 'hold', reason: 'spam', detail: 'score 9' }, at })
      .then([received, { type: 'IncomingHeld', data: { reason: 'spam', detail: 'score 9', at } }]);
    given([])
      .when({ type: 'Receive', message, disposition: { kind: 'store' }, at })
      .then([received, { type: 'IncomingStored', data: { at } }]);
    given([])
      .when({ type: 'Receive', message, disposition: { kind: 'bounce', reply: '5.1.1 no' }, at })
      .then([received, { type: 'IncomingBounced', data: { reply: '5.1.1 no', at } }]);
    given([])
      .when({ type: 'Receive', message, disposition: { kind: 'reject', reason: 'virus', reply: '5.7.1 v' }, at })
      .then([received, { type: 'IncomingRejected', data: { reason: 'virus', reply: '5.7.1 v', at } }]);
    given([received, routedBoth])
      .when({ type: 'Receive', message, disposition: { kind: 'store' }, at })
      .thenError('MESSAGE_ALREADY_EXISTS');
  });

  it('records the verdict as its own event, right after IncomingReceived and before the disposition', () => {
    const verdict = {
      scanners: ['spamassassin', 'clamav'],
      spamStatus: 'Spam' as const,
      spamScore: 1000,
      spamThreshold: 5,
      symbols: [{ name: 'GTUBE', score: 1000 }],
    };
    given([])
      .when({
        type: 'Receive',
        message,
        scan: verdict,
        disposition: { kind: 'hold', reason: 'spam', detail: 'spam score 1000 (threshold 5)' },
        at,
      })
      .then([
        received,
        { type: 'IncomingScanned', data: { ...verdict, at } },
        { type: 'IncomingHeld', data: { reason: 'spam', detail: 'spam score 1000 (threshold 5)', at } },
      ]);
    // a virus, and a scanner that gave no verdict (fail-open)
    const virus = {
      scanners: ['spamassassin', 'clamav'],
      spamStatus: 'NotChecked' as const,
      virus: 'Eicar-Test-Signature',
      failures: ['spamassassin: SCANNER_TIMEOUT'],
    };
    given([])
      .when({ type: 'Receive', message, scan: virus, disposition: { kind: 'reject', reason: 'virus', reply: 'v' }, at })
      .then([
        received,
        { type: 'IncomingScanned', data: { ...virus, at } },
        { type: 'IncomingRejected', data: { reason: 'virus', reply: 'v', at } },
      ]);
  });

  it('still reads an IncomingReceived recorded with the verdict inside (before IncomingScanned existed)', () => {
    const scan = { spamStatus: 'NotSpam' as const, spamScore: 1.2, spamThreshold: 5 };
    const old = incomingEventCodec.decode('IncomingReceived', 1, { ...message, scan, at });
    assert.equal(old.ok, true, JSON.stringify(old));
    if (!old.ok || old.value.type !== 'IncomingReceived') return;
    assert.deepEqual(old.value.data.scan, scan);
    assert.deepEqual(scanOf(old.value.data), scan, 'readers take the embedded verdict');
    const scanned = { scanners: ['rspamd'], spamStatus: 'Spam' as const, spamScore: 15, at };
    assert.deepEqual(scanOf(received.data, scanned), scanned, 'or the IncomingScanned');
    // and the message goes on from it as before
    given([old.value, routedBoth])
      .when(record('e1', 'delivered'))
      .then([attempt('e1', 'delivered')]);
  });

  it('settles when the last endpoint settles: delivered when all took it, failed when one gave up', () => {
    given([received, routedBoth])
      .when(record('e1', 'delivered'))
      .then([attempt('e1', 'delivered')]);
    given([received, routedBoth, attempt('e1', 'delivered')])
      .when(record('e2', 'delivered'))
      .then([attempt('e2', 'delivered'), { type: 'IncomingDelivered', data: { at: later } }]);
    given([received, routedBoth, attempt('e1', 'failed')])
      .when(record('e2', 'delivered'))
      .then([attempt('e2', 'delivered'), { type: 'IncomingFailed', data: { endpointId: 'e1', at: later } }]);
    given([received, routedBoth, attempt('e1', 'delivered')])
      .when(record('e2', 'retry'))
      .then([attempt('e2', 'retry')]);
    given([received, routedBoth, attempt('e2', 'retry')])
      .when(record('e2', 'failed'))
      .then([attempt('e2', 'failed', 2)]);
  });

  it('refuses attempts for unknown, settled or unrouted endpoints', () => {
    given([]).when(record('e1', 'delivered')).thenError('MESSAGE_NOT_FOUND');
    given([received, routedBoth]).when(record('nope', 'delivered')).thenError('UNKNOWN_ENDPOINT');
    given([received, routedBoth, attempt('e1', 'delivered')])
      .when(record('e1', 'delivered'))
      .thenError('ENDPOINT_NOT_PENDING');
    const held: IncomingEvent = { type: 'IncomingHeld', data: { reason: 'route', detail: 'd', at } };
    given([received, held]).when(record('e1', 'delivered')).thenError('NOT_ROUTING');
  });

  it('releases held mail to the endpoints the route has now, or stores it when it has none', () => {
    const held: IncomingEvent = { type: 'IncomingHeld', data: { reason: 'route', detail: 'd', at } };
    given([received, held])
      .when({ type: 'Release', endpoints: [web], at: later })
      .then([
        { type: 'IncomingReleased', data: { at: later } },
        { type: 'IncomingRouted', data: { ...routed, endpoints: [web], at: later } },
      ]);
    given([received, held])
      .when({ type: 'Release', endpoints: [], at: later })
      .then([
        { type: 'IncomingReleased', data: { at: later } },
        { type: 'IncomingStored', data: { at: later } },
      ]);
    given([received, routedBoth]).when({ type: 'Release', endpoints: [], at: later }).thenError('MESSAGE_NOT_HELD');
  });

  it('retries the failed endpoints of a failed message, and every endpoint of a delivered one', () => {
    const failed = [
      received,
      routedBoth,
      attempt('e1', 'failed'),
      attempt('e2', 'delivered'),
      { type: 'IncomingFailed', data: { endpointId: 'e1', at: later } } as IncomingEvent,
    ];
    given(failed)
      .when({ type: 'Retry', at: later })
      .then([{ type: 'EndpointRetryRequested', data: { endpointIds: ['e1'], at: later } }]);
    // after the retry request, e1 is pending again and an attempt is taken
    given([...failed, { type: 'EndpointRetryRequested', data: { endpointIds: ['e1'], at: later } }])
      .when(record('e1', 'delivered'))
      .then([attempt('e1', 'delivered', 2), { type: 'IncomingDelivered', data: { at: later } }]);
    const delivered = [
      received,
      routedBoth,
      attempt('e1', 'delivered'),
      attempt('e2', 'delivered'),
      { type: 'IncomingDelivered', data: { at: later } } as IncomingEvent,
    ];
    given(delivered)
      .when({ type: 'Retry', at: later })
      .then([{ type: 'EndpointRetryRequested', data: { endpointIds: ['e1', 'e2'], at: later } }]);
    given([received, routedBoth]).when({ type: 'Retry', at: later }).thenError('NOTHING_TO_RETRY');
  });

  it('expires the body of a settled message once, never while an endpoint has still to take it', () => {
    const delivered = [received, routedBoth, attempt('e1', 'delivered'), attempt('e2', 'delivered')];
    const expired: IncomingEvent = { type: 'IncomingContentExpired', data: { retentionDays: 30, at: later } };
    given([...delivered, { type: 'IncomingDelivered', data: { at: later } }])
      .when({ type: 'ExpireContent', retentionDays: 30, at: later })
      .then([expired]);
    given([...delivered, { type: 'IncomingDelivered', data: { at: later } }, expired])
      .when({ type: 'ExpireContent', retentionDays: 30, at: later })
      .then([]);
    given([received, routedBoth])
      .when({ type: 'ExpireContent', retentionDays: 30, at: later })
      .thenError('MESSAGE_IN_FLIGHT');
    const held: IncomingEvent = { type: 'IncomingHeld', data: { reason: 'route', detail: 'd', at } };
    given([received, held, expired]).when({ type: 'Release', endpoints: [], at: later }).thenError('CONTENT_EXPIRED');
  });

  after(() => {
    // every event type is emitted by some decision above
    assert.deepEqual([...emitted].sort(), [...incomingEventCodec.types].sort());
  });
});

describe('incoming disposition policy', () => {
  const route = (o: Partial<RoutePolicy>): RoutePolicy => ({
    mode: 'endpoint',
    spamMode: 'mark',
    endpoints: [web],
    ...o,
  });
  const thresholds = { spam: 5, fail: 20 };
  const scan = (spamScore: number, virus?: string) => ({
    spamStatus: 'NotChecked' as const,
    spamScore,
    ...(virus ? { virus } : {}),
  });
  it('follows the route mode for clean mail', () => {
    assert.deepEqual(dispositionFor(route({}), undefined, thresholds), { kind: 'route', endpoints: [web] });
    assert.deepEqual(dispositionFor(route({ endpoints: [] }), undefined, thresholds), { kind: 'store' });
    assert.equal(dispositionFor(route({ mode: 'accept' }), scan(1), thresholds).kind, 'store');
    assert.equal(dispositionFor(route({ mode: 'hold' }), scan(1), thresholds).kind, 'hold');
    assert.equal(dispositionFor(route({ mode: 'bounce' }), scan(1), thresholds).kind, 'bounce');
  });
  it('applies the spam mode at the threshold, and refuses past the fail threshold whatever the mode', () => {
    assert.equal(dispositionFor(route({ spamMode: 'mark' }), scan(5), thresholds).kind, 'route');
    assert.equal(dispositionFor(route({ spamMode: 'quarantine' }), scan(5), thresholds).kind, 'hold');
    assert.equal(dispositionFor(route({ spamMode: 'quarantine' }), scan(4.9), thresholds).kind, 'route');
    assert.equal(dispositionFor(route({ spamMode: 'fail' }), scan(5), thresholds).kind, 'reject');
    assert.equal(dispositionFor(route({ spamMode: 'mark' }), scan(20), thresholds).kind, 'reject');
  });
  it('refuses a virus, or holds it when the route quarantines', () => {
    assert.equal(dispositionFor(route({}), scan(0, 'Eicar-Test-Signature'), thresholds).kind, 'reject');
    assert.deepEqual(dispositionFor(route({ spamMode: 'quarantine' }), scan(0, 'Eicar'), thresholds), {
      kind: 'hold',
      reason: 'virus',
      detail: 'virus found: Eicar',
    });
  });
});
