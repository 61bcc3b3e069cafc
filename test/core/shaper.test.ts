import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdjustableClock } from '../../infra/clock/index.js';
import { isThrottleReply, Shaper, type DestinationLimits } from '../../mta/shaping/shaper.js';

/**
 * Traffic shaping per destination on a test clock: connection and message-rate limits, and the
 * back-off a 421 or "slow down" answer starts. Waits end when the test moves the clock.
 */
const start = '2026-03-01T00:00:00Z';
const shaper = (limits: Partial<DestinationLimits> = {}) => {
  const clock = new AdjustableClock(start);
  return {
    clock,
    shaper: new Shaper(() => ({ maxConnections: 2, messagesPerMinute: 0, ...limits }), clock),
  };
};

/** A promise's state without waiting for it: whether it settled within the current turn of the event loop. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('shaper: connections per destination', () => {
  it('gives out as many connections as the limit, and the next when one is released', async () => {
    const { shaper: s } = shaper({ maxConnections: 2 });
    const first = await s.acquireConnection('mx.example');
    await s.acquireConnection('mx.example');
    const third = s.acquireConnection('mx.example');
    assert.equal(await settled(third), false, 'the third waits');
    assert.equal(await settled(s.acquireConnection('other.example')), true, 'another destination does not');
    first();
    first(); // a second release of the same connection frees nothing more
    assert.equal(await settled(third), true, 'a release lets it in');
    assert.deepEqual(s.state('mx.example'), { allowed: 2, active: 2, pausedUntil: 0 });
    assert.equal(await settled(s.acquireConnection('mx.example')), false, 'still two at most');
  });

  it('backs off after a throttle: half the connections, and none for 30 s', async () => {
    const { shaper: s, clock } = shaper({ maxConnections: 8 });
    s.backOff('mx.example');
    const pausedUntil = new Date(start).getTime() + 30_000;
    assert.deepEqual(s.state('mx.example'), { allowed: 4, active: 0, pausedUntil });
    const waiting = s.acquireConnection('mx.example');
    assert.equal(await settled(waiting), false, 'paused');
    await clock.advance(29_999);
    assert.equal(await settled(waiting), false, 'still paused a millisecond before the end');
    await clock.advance(1);
    assert.equal(await settled(waiting), true, 'the pause is over');
    s.backOff('mx.example');
    s.backOff('mx.example');
    s.backOff('mx.example');
    assert.equal(s.state('mx.example').allowed, 1, 'never below one connection');
    assert.equal(s.state('mx.example').pausedUntil, pausedUntil + 30_000, 'paused from the last back-off');
  });

  it('a back-off pause is not shortened by a shorter one', async () => {
    const { shaper: s } = shaper();
    s.backOff('mx.example', 60_000);
    s.backOff('mx.example', 1_000);
    assert.equal(s.state('mx.example').pausedUntil, new Date(start).getTime() + 60_000);
  });

  it('earns connections back one per 20 successes, up to the limit, and lets a waiter in', async () => {
    const { shaper: s, clock } = shaper({ maxConnections: 4 });
    s.backOff('mx.example');
    await clock.advance(30_000);
    assert.equal(s.state('mx.example').allowed, 2);
    await s.acquireConnection('mx.example');
    await s.acquireConnection('mx.example');
    const waiting = s.acquireConnection('mx.example');
    for (let i = 0; i < 19; i++) s.succeeded('mx.example');
    assert.equal(s.state('mx.example').allowed, 2, '19 successes are not enough');
    assert.equal(await settled(waiting), false);
    s.succeeded('mx.example');
    assert.equal(s.state('mx.example').allowed, 3);
    assert.equal(await settled(waiting), true, 'the new connection goes to the one waiting');
    for (let i = 0; i < 100; i++) s.succeeded('mx.example');
    assert.equal(s.state('mx.example').allowed, 4, 'never above the limit');
  });
});

describe('shaper: messages per minute per destination', () => {
  it('lets the limit through at once, and the next one a minute after the first', async () => {
    const { shaper: s, clock } = shaper({ messagesPerMinute: 3 });
    for (let i = 0; i < 3; i++) assert.equal(await settled(s.beforeMessage('mx.example')), true, `message ${i + 1}`);
    const fourth = s.beforeMessage('mx.example');
    assert.equal(await settled(fourth), false, 'the fourth waits');
    assert.equal(await settled(s.beforeMessage('other.example')), true, 'another destination has its own minute');
    await clock.advance(59_999);
    assert.equal(await settled(fourth), false);
    await clock.advance(6);
    assert.equal(await settled(fourth), true, 'the first one left the window');
  });

  it('0 messages per minute means no limit', async () => {
    const { shaper: s } = shaper({ messagesPerMinute: 0 });
    for (let i = 0; i < 1000; i++) await s.beforeMessage('mx.example');
  });
});

describe('shaper: which replies ask us to slow down', () => {
  const cases: [code: number, text: string, throttle: boolean][] = [
    [421, 'Service not available, closing transmission channel', true],
    [421, '4.7.0 Try again later, closing connection', true],
    [450, '4.7.1 Too many connections from your IP', true],
    [452, 'Too many recipients received this hour', true],
    [451, '4.7.1 Rate limited, please slow down', true],
    [451, 'Sending rate exceeded', true],
    [450, '4.2.1 Throttled by policy', true],
    [451, '4.7.1 Greylisted, please try again later', false],
    [452, '4.2.2 Mailbox full', false],
    [550, '5.7.1 Rate limit exceeded permanently', false],
  ];
  for (const [code, text, throttle] of cases) {
    it(`${code} ${text}: ${throttle ? 'slow down' : 'not a throttle'}`, () => {
      assert.equal(isThrottleReply(code, text), throttle);
    });
  }
});

describe('shaper: state per destination is bounded', () => {
  it('forgets a destination idle for 10 minutes, not one in use, paused or waited for', async () => {
    const { shaper: s, clock } = shaper({ maxConnections: 1 });
    for (let i = 0; i < 1000; i++) (await s.acquireConnection(`mx${i}.example`))();
    const held = await s.acquireConnection('held.example');
    const waiting = s.acquireConnection('held.example');
    s.backOff('paused.example', 20 * 60_000);
    assert.equal(s.destinations, 1002);
    await clock.advance(9 * 60_000);
    s.state('mx0.example'); // used again: it stays
    assert.equal(s.destinations, 1002, 'nothing idle for 10 minutes yet');
    await clock.advance(2 * 60_000);
    s.state('new.example');
    // mx0 (used 2 minutes ago), held (a connection and a waiter), paused, and the new one
    assert.equal(s.destinations, 4);
    held();
    assert.equal(await settled(waiting), true, 'the waiter still gets its connection');
  });
});
