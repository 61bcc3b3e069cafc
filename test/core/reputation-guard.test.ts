import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_REPUTATION_THRESHOLDS,
  decideReputation,
  decideResume,
  feedbackIdValue,
  ServerDeliverability,
  thresholdsWith,
  pauseHolding,
  reputationStateOf,
  tenancyEventCodec,
  tenancyWebhookPayload,
  windowStartOf,
  type ReputationCounts,
  type ReputationEvent,
} from '../../domain/index.js';

/** The reputation guard's rules as given / when / then: the history, the counts and the time are data. */
const serverId = 'srv';
const at = '2026-03-01T12:00:00.000Z';
const windowStart = '2026-02-28T12:00:00.000Z';
const counts = (c: Partial<ReputationCounts>): ReputationCounts => ({
  delivered: 0,
  bounced: 0,
  hardBounces: 0,
  complaints: 0,
  ...c,
});
const check = (given: ReputationEvent[], c: Partial<ReputationCounts>, domain: string | null = null) =>
  decideReputation({
    serverId,
    domain,
    state: reputationStateOf(given),
    counts: counts(c),
    thresholds: DEFAULT_REPUTATION_THRESHOLDS,
    minVolume: 100,
    windowStart,
    at,
  });
const types = (events: ReputationEvent[]) =>
  events.map((e) => (e.type === 'SendingPaused' ? `${e.type}:${e.data.kind}` : e.type));

describe('reputation guard: complaint and hard-bounce rates', () => {
  it('below the minimum volume a rate says nothing, however high', () => {
    assert.deepEqual(check([], { delivered: 99, complaints: 50, bounced: 0, hardBounces: 0 }), []);
    assert.deepEqual(check([], { delivered: 50, bounced: 49, hardBounces: 49 }), []);
  });

  it('under the warning thresholds nothing happens', () => {
    assert.deepEqual(check([], { delivered: 1000, complaints: 0, bounced: 10, hardBounces: 10 }), []);
  });

  it('0.1 % complaints warns once; 0.3 % pauses, with rate, volume, window, threshold and reason', () => {
    const warned = check([], { delivered: 1000, complaints: 1 });
    assert.deepEqual(types(warned), ['ReputationWarning']);
    const w = warned[0]!;
    assert.ok(w.type === 'ReputationWarning');
    assert.equal(w.data.threshold, 0.001);
    // given the warning, the same rate raises nothing again
    assert.deepEqual(check(warned, { delivered: 1000, complaints: 2 }), []);
    const paused = check(warned, { delivered: 1000, complaints: 3 });
    assert.deepEqual(types(paused), ['SendingPaused:complaint']);
    const p = paused[0]!;
    assert.ok(p.type === 'SendingPaused');
    assert.deepEqual(
      { rate: p.data.rate, count: p.data.count, volume: p.data.volume, threshold: p.data.threshold },
      { rate: 0.003, count: 3, volume: 1000, threshold: 0.003 },
    );
    assert.equal(p.data.windowStart, windowStart);
    assert.equal(p.data.at, at);
    assert.match(p.data.reason, /complaint rate of the server is 0\.3 % \(3 of 1000\).*pause threshold of 0\.3 %/);
  });

  it('a jump straight past the pause threshold warns and pauses at once', () => {
    assert.deepEqual(types(check([], { delivered: 200, complaints: 1 })), [
      'ReputationWarning',
      'SendingPaused:complaint',
    ]);
  });

  it('hard bounces are counted against delivered and bounced messages: 2 % warns, 5 % pauses', () => {
    assert.deepEqual(types(check([], { delivered: 80, bounced: 20, hardBounces: 2 })), ['ReputationWarning']);
    assert.deepEqual(types(check([], { delivered: 90, bounced: 10, hardBounces: 5 })), [
      'ReputationWarning',
      'SendingPaused:hard_bounce',
    ]);
    // soft bounces (a policy block, a full mailbox) count in the volume only
    assert.deepEqual(check([], { delivered: 50, bounced: 50, hardBounces: 1 }), []);
  });

  it('a paused scope is not paused again; a warned rate that falls back recovers, so a later rise warns again', () => {
    const history = check([], { delivered: 200, complaints: 1 });
    assert.deepEqual(check(history, { delivered: 200, complaints: 2 }), []);
    const recovered = check(history, { delivered: 2000, complaints: 1 });
    assert.deepEqual(types(recovered), ['ReputationRecovered']);
    assert.deepEqual(types(check([...history, ...recovered], { delivered: 1000, complaints: 1 })), [
      'ReputationWarning',
    ]);
  });

  it('a pause of the server holds mail of every domain; a domain pause only that domain', () => {
    const server = reputationStateOf(check([], { delivered: 200, complaints: 1 }));
    assert.ok(pauseHolding(server, 'example.org'));
    const domain = reputationStateOf(check([], { delivered: 200, complaints: 1 }, 'bulk.example.org'));
    assert.ok(pauseHolding(domain, 'Bulk.Example.org'));
    assert.equal(pauseHolding(domain, 'example.org'), undefined);
    assert.equal(pauseHolding(reputationStateOf([]), 'example.org'), undefined);
  });

  it("a resume lifts every pause of the server (or the named domain's), and restarts the window there", () => {
    const history = [
      ...check([], { delivered: 200, complaints: 1 }),
      ...check([], { delivered: 200, complaints: 1 }, 'bulk.example.org'),
    ];
    const resumedAt = '2026-03-01T12:30:00.000Z';
    const one = decideResume({
      serverId,
      domain: 'bulk.example.org',
      state: reputationStateOf(history),
      by: 'admin',
      at: resumedAt,
    });
    assert.deepEqual(
      one.map((e) => e.data.domain),
      ['bulk.example.org'],
    );
    const all = decideResume({ serverId, domain: null, state: reputationStateOf(history), by: 'admin', at: resumedAt });
    assert.deepEqual(all.map((e) => e.data.domain).sort(), [null, 'bulk.example.org'].sort());
    const after = reputationStateOf([...history, ...all]);
    assert.equal(pauseHolding(after, 'bulk.example.org'), undefined);
    // nothing paused: nothing to resume
    assert.deepEqual(decideResume({ serverId, domain: null, state: after, by: 'admin', at: resumedAt }), []);
    // the window starts at the resume, not 24 hours back; for an untouched scope 24 hours back
    assert.equal(windowStartOf(after, null, '2026-03-01T13:00:00.000Z', 24), resumedAt);
    assert.equal(windowStartOf(after, 'other.example', '2026-03-01T13:00:00.000Z', 24), '2026-02-28T13:00:00.000Z');
    // and 24 hours after the resume the window is a whole window again
    assert.equal(windowStartOf(after, null, '2026-03-03T00:00:00.000Z', 24), '2026-03-02T00:00:00.000Z');
  });

  it('events survive the codec; ReputationWarning and SendingPaused are webhooks, the others are not', () => {
    const history = check([], { delivered: 200, complaints: 1 });
    const resumed = decideResume({ serverId, domain: null, state: reputationStateOf(history), by: 'admin', at });
    const recovered = check([history[0]!], { delivered: 5000, complaints: 1 });
    for (const e of [...history, ...resumed, ...recovered]) {
      const decoded = tenancyEventCodec.decode(e.type, tenancyEventCodec.schemaVersionOf(e.type), e.data);
      assert.deepEqual(decoded.ok && decoded.value, e, `${e.type} changes through the codec`);
    }
    const server = { serverId, name: 'Main', organizationId: 'org' };
    const hooks = [...history, ...resumed, ...recovered].map((e) => tenancyWebhookPayload(e, server)?.event);
    assert.deepEqual(hooks, ['ReputationWarning', 'SendingPaused', undefined, undefined]);
    const paused = tenancyWebhookPayload(history[1]!, server)!.payload;
    assert.equal(paused.kind, 'complaint');
    assert.equal(paused.rate, 0.005);
    assert.match(String(paused.reason), /pause threshold/);
  });
});

describe('deliverability settings', () => {
  const settings = ServerDeliverability.shape.feedbackId.unwrap().parse({ mailType: 'newsletter' });

  it("Feedback-ID is campaign:customer:mailtype:senderid, a tag's colons and spaces cannot add a field", () => {
    const message = { tag: 'spring sale:2026', serverId: 'srv-1', organizationId: 'org-1' };
    assert.equal(feedbackIdValue(settings, message), 'spring-sale-2026:srv-1:newsletter:org-1');
    assert.equal(feedbackIdValue(settings, { ...message, tag: undefined }), 'none:srv-1:newsletter:org-1');
    const own = { ...settings, template: 'pl-{senderid}:{campaign}', senderId: 'acme' };
    assert.equal(feedbackIdValue(own, message), 'pl-acme:spring-sale-2026');
  });

  it('refuses a template that would break the header onto another line', () => {
    assert.equal(
      ServerDeliverability.shape.feedbackId.safeParse({ template: 'a\r\nBcc: x@example.org' }).success,
      false,
    );
  });

  it("a server's own thresholds (percent) replace the configured ones they name", () => {
    const t = thresholdsWith(DEFAULT_REPUTATION_THRESHOLDS, { complaintPausePercent: 0.2 });
    assert.deepEqual(t, { ...DEFAULT_REPUTATION_THRESHOLDS, complaint: { warn: 0.001, pause: 0.002 } });
    assert.equal(thresholdsWith(DEFAULT_REPUTATION_THRESHOLDS, null), DEFAULT_REPUTATION_THRESHOLDS);
  });
});
