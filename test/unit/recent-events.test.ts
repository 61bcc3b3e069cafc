import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import { RecentEvents } from '../../infra/event-store/postgres/recent-events.js';

/** Events at checkpoints 1:<position>, on message and webhook streams, MessageAccepted and MessageDelivered by turns. */
function events(
  from: number,
  count: number,
  stream = (p: number) => (p % 5 === 0 ? `webhook-${p}` : `message-${p}`),
): RecordedEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const position = from + i;
    return {
      eventId: `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`,
      type: position % 2 ? 'MessageAccepted' : 'MessageDelivered',
      streamId: stream(position),
      revision: 0,
      position,
      checkpoint: `1:${position}`,
      recordedAt: new Date(0),
      schemaVersion: 1,
      data: {},
      metadata: { correlationId: 'c' },
    };
  });
}

const positions = (r: { events: RecordedEvent[] } | undefined) => r?.events.map((e) => e.position);

describe("recent events (one read of the log serving the process's other readers)", () => {
  it('serves the rest of a remembered stretch from any of its checkpoints, up to the limit', () => {
    const recent = new RecentEvents();
    recent.remember('1:0', 100, {}, events(1, 10));
    assert.deepEqual(positions(recent.read('1:0', 100, {})), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const part = recent.read('1:4', 3, {});
    assert.deepEqual(positions(part), [5, 6, 7]);
    assert.equal(part!.checkpoint, '1:7');
  });

  it('leaves to the database a reader at the end of the stretch, before it or elsewhere, and one that would get nothing', () => {
    const recent = new RecentEvents();
    recent.remember('1:0', 100, {}, events(1, 10));
    assert.equal(recent.read('1:10', 100, {}), undefined, 'at the end: newer events are only in the database');
    assert.equal(recent.read('start', 100, {}), undefined);
    assert.equal(recent.read('2:3', 100, {}), undefined);
    // nothing after 1:8 is a MessageAccepted of a webhook stream… an empty answer would look like "caught up"
    assert.equal(recent.read('1:8', 100, { types: ['Nothing'] }), undefined);
  });

  it('filters in memory, and lets a filtered reader skip what it looked through', () => {
    const recent = new RecentEvents();
    recent.remember('1:0', 100, {}, events(1, 10));
    const accepted = recent.read('1:0', 100, { types: ['MessageAccepted'], streamPrefixes: ['message-'] });
    assert.deepEqual(positions(accepted), [1, 3, 7, 9]);
    assert.equal(accepted!.checkpoint, '1:10', 'past the events it looked through');
    const two = recent.read('1:0', 2, { types: ['MessageAccepted'] });
    assert.deepEqual(positions(two), [1, 3]);
    assert.equal(two!.checkpoint, '1:3', 'a full batch ends at its last event');
  });

  it('a stretch of some streams serves only readers of those streams', () => {
    const recent = new RecentEvents();
    const messages = events(1, 10).filter((e) => e.streamId.startsWith('message-'));
    recent.remember('1:0', 100, { streamPrefixes: ['message-'] }, messages);
    assert.deepEqual(positions(recent.read('1:0', 100, { streamPrefixes: ['message-'] })), [1, 2, 3, 4, 6, 7, 8, 9]);
    assert.deepEqual(
      positions(recent.read('1:4', 100, { streamPrefixes: ['message-'], types: ['MessageDelivered'] })),
      [6, 8],
    );
    assert.equal(recent.read('1:0', 100, {}), undefined, 'an unfiltered reader needs the webhook events too');
    assert.equal(recent.read('1:0', 100, { streamPrefixes: ['webhook-'] }), undefined);
  });

  it('grows with reads that continue it, starts again with one that does not, and ignores type-filtered reads', () => {
    const recent = new RecentEvents();
    recent.remember('1:0', 100, {}, events(1, 5));
    recent.remember('1:5', 100, {}, events(6, 5));
    assert.deepEqual(positions(recent.read('1:2', 100, {})), [3, 4, 5, 6, 7, 8, 9, 10]);
    recent.remember('1:20', 100, {}, events(21, 3));
    assert.equal(recent.read('1:2', 100, {}), undefined, 'the old stretch is gone');
    assert.deepEqual(positions(recent.read('1:20', 100, {})), [21, 22, 23]);
    recent.remember('1:23', 100, { types: ['MessageAccepted'] }, events(25, 1));
    assert.equal(
      recent.read('1:23', 100, {}),
      undefined,
      'a type-filtered read does not have every event of its range',
    );
    recent.remember(
      '1:23',
      100,
      { streamPrefixes: ['message-'] },
      events(24, 2, (p) => `message-${p}`),
    );
    assert.deepEqual(
      positions(recent.read('1:20', 100, {})),
      [21, 22, 23],
      'reads of other streams have a stretch of their own: this one stays',
    );
    assert.deepEqual(positions(recent.read('1:23', 100, { streamPrefixes: ['message-'] })), [24, 25]);
  });

  it('answers short only from a stretch that reached the head: a catching-up reader keeps its full batches', () => {
    const recent = new RecentEvents();
    recent.remember('1:0', 5, {}, events(1, 5));
    assert.deepEqual(positions(recent.read('1:0', 5, {})), [1, 2, 3, 4, 5], 'a full batch is fine');
    assert.equal(recent.read('1:2', 5, {}), undefined, 'three of five while there may be more: the database answers');
    assert.equal(recent.read('1:0', 5, { types: ['MessageAccepted'] }), undefined);
    recent.remember('1:5', 5, {}, events(6, 2));
    assert.deepEqual(positions(recent.read('1:2', 5, {})), [3, 4, 5, 6, 7], 'full again');
    assert.deepEqual(
      positions(recent.read('1:4', 5, {})),
      [5, 6, 7],
      'the last read was short: the stretch reached the head',
    );
  });

  it('keeps a stretch per set of stream prefixes, and the one of all streams serves every reader', () => {
    const recent = new RecentEvents();
    const all = events(1, 10);
    recent.remember('1:0', 100, {}, all);
    recent.remember(
      '1:0',
      100,
      { streamPrefixes: ['message-'] },
      all.filter((e) => e.streamId.startsWith('message-')).slice(0, 3),
    );
    assert.deepEqual(
      positions(recent.read('1:0', 100, { streamPrefixes: ['message-'] })),
      [1, 2, 3],
      'its own stretch first',
    );
    assert.deepEqual(
      positions(recent.read('1:3', 100, { streamPrefixes: ['message-'] })),
      [4, 6, 7, 8, 9],
      'then the stretch of all streams',
    );
    assert.deepEqual(positions(recent.read('1:3', 100, { streamPrefixes: ['webhook-'] })), [5, 10]);
  });

  it('keeps the newest events up to its capacity', () => {
    const recent = new RecentEvents(10);
    recent.remember('1:0', 100, {}, events(1, 8));
    recent.remember('1:8', 100, {}, events(9, 8));
    assert.equal(recent.read('1:0', 100, {}), undefined, 'dropped');
    assert.equal(recent.read('1:5', 100, {}), undefined, 'dropped');
    assert.deepEqual(positions(recent.read('1:6', 100, {})), [7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 'the new start');
    assert.deepEqual(positions(recent.read('1:12', 100, {})), [13, 14, 15, 16]);
    recent.remember('1:16', 100, {}, events(17, 25));
    assert.deepEqual(positions(recent.read('1:31', 100, {})), [32, 33, 34, 35, 36, 37, 38, 39, 40, 41]);
    assert.equal(recent.read('1:30', 100, {}), undefined);
  });
});
