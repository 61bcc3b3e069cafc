import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdjustableClock } from '../../infra/clock/index.js';
import { asksToSlowDown, isThrottleReply, Shaper, type DestinationLimits } from '../../mta/shaping/shaper.js';

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

  it('keeps a destination that sent within the hour: its hourly limit still counts those sends', async () => {
    const { shaper: s, clock } = shaper({ maxConnections: 1 });
    (await s.acquireConnection('busy.example'))();
    await s.beforeMessage('busy.example');
    (await s.acquireConnection('quiet.example'))();
    await clock.advance(11 * 60_000);
    s.state('other.example');
    assert.equal(s.destinations, 2, 'busy.example kept, quiet.example forgotten');
    await clock.advance(50 * 60_000);
    s.state('other.example');
    assert.equal(s.destinations, 1, 'an hour after its last send it goes too');
  });
});

describe('shaper: provider buckets, back-off rules and reloads', () => {
  const clockAt = () => new AdjustableClock(start);
  const gmailRule = { enhancedCode: '4.7.28', pauseMinutes: 30, rateFactor: 0.5 };

  it('puts the MX hosts of a provider in one bucket: its connection limit holds across them', async () => {
    const clock = clockAt();
    const s = new Shaper(() => ({ maxConnections: 2, messagesPerMinute: 0 }), clock, {
      bucketOf: (host) => (host.endsWith('.google.test') ? 'provider:google' : host),
    });
    await s.acquireConnection('a.google.test');
    await s.acquireConnection('b.google.test');
    assert.equal(await settled(s.acquireConnection('c.google.test')), false, 'a third host of the provider waits');
    assert.equal(await settled(s.acquireConnection('mx.other.test')), true);
  });

  it("a provider's back-off rule pauses for its time and lowers its rate; other replies do not", async () => {
    const clock = clockAt();
    const s = new Shaper(() => ({ maxConnections: 8, messagesPerMinute: 10, backOff: [gmailRule] }), clock);
    assert.equal(s.answered('mx.g', { code: 452, enhancedCode: '4.2.2', text: 'Mailbox full' }), false);
    assert.equal(s.answered('mx.g', { code: 421, enhancedCode: '4.7.28', text: 'unusual rate' }), true);
    const [b] = s.snapshot();
    assert.equal(b!.pausedUntil, new Date(start).getTime() + 30 * 60_000);
    assert.deepEqual([b!.allowed, b!.messagesPerMinute], [4, 5], 'half the connections and half the rate');
    assert.match(b!.lastBackOff!.reply, /421 4\.7\.28/);
    assert.equal(s.answered('mx.g', { code: 550, text: '5.7.1 rate limit' }), false, 'a 5xx is not a back-off');
  });

  it('a 4xx the bounce rules class rate-limit backs off (not greylisting)', () => {
    const clock = clockAt();
    const s = new Shaper(() => ({ maxConnections: 8, messagesPerMinute: 0 }), clock);
    assert.equal(asksToSlowDown(451, '4.7.500 Server busy. Please try again later', '4.7.500'), true);
    assert.equal(asksToSlowDown(450, '4.2.1 receiving mail too quickly', '4.2.1'), true);
    assert.equal(asksToSlowDown(451, '4.7.1 Greylisted, please try again later', '4.7.1'), false);
    assert.equal(s.answered('mx.m', { code: 451, enhancedCode: '4.7.500', text: 'Server busy' }), true);
    assert.equal(s.state('mx.m').pausedUntil, new Date(start).getTime() + 30_000);
  });

  it('messages per hour hold; a reload that raises the rate lets the next message through', async () => {
    const clock = clockAt();
    let generation = 0;
    let perHour = 2;
    const s = new Shaper(() => ({ maxConnections: 4, messagesPerMinute: 0, messagesPerHour: perHour }), clock, {
      generation: () => generation,
    });
    await s.beforeMessage('mx.h');
    await s.beforeMessage('mx.h');
    const third = s.beforeMessage('mx.h');
    assert.equal(await settled(third), false, 'the hour is full');
    await clock.advance(59 * 60_000);
    assert.equal(await settled(third), false, 'still within the hour');
    await clock.advance(60_000 + 10);
    assert.equal(await settled(third), true, 'the first left the hour');
    perHour = 10;
    generation++;
    assert.equal(await settled(s.beforeMessage('mx.h')), true, 'the reloaded rate has room');
  });

  it('a reload changes the connection limit for the connections opened next', async () => {
    const clock = clockAt();
    let generation = 0;
    let max = 4;
    const t = new Shaper(() => ({ maxConnections: max, messagesPerMinute: 0 }), clock, {
      generation: () => generation,
    });
    for (let i = 0; i < 4; i++) await t.acquireConnection('mx.r');
    const fifth = t.acquireConnection('mx.r');
    assert.equal(await settled(fifth), false);
    max = 6;
    generation++;
    assert.equal(await settled(t.acquireConnection('mx.r')), true, 'a raised limit lets another connection in');
    max = 1;
    generation++;
    assert.equal(await settled(t.acquireConnection('mx.r')), false, 'a lowered limit holds new connections back');
    assert.equal(t.state('mx.r').allowed, 1);
  });
});
