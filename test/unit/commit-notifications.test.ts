import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { matchesEventFilter } from '../../infra/event-store/port.js';
import { mayConcern, streamKinds } from '../../infra/event-store/postgres/notifications.js';

const kindOf = (streamId: string) => /^[^-]*-?/.exec(streamId)![0];

describe('which commit notifications wake a subscription', () => {
  it('wakes every subscription whose filter takes a stream the commit wrote (never passes one over)', () => {
    const part = fc.constantFrom('message', 'send', 'limit', 'dmarc', 'report', 'x', '');
    const id = fc.array(part, { minLength: 1, maxLength: 3 }).map((p) => p.join('-'));
    fc.assert(
      fc.property(
        fc.array(id, { minLength: 1, maxLength: 4 }),
        fc.array(id, { minLength: 1, maxLength: 3 }),
        (streams, prefixes) => {
          const filter = { streamPrefixes: prefixes };
          const kinds = streamKinds([...new Set(streams.map(kindOf))].join(','));
          const taken = streams.some((s) => matchesEventFilter({ streamId: s, type: 'T' }, filter));
          if (taken) assert.ok(mayConcern(kinds, filter), `${JSON.stringify(streams)} / ${JSON.stringify(prefixes)}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('lets a reader of other streams sleep, and wakes everyone when the kinds are not known', () => {
    assert.equal(mayConcern(['message-'], { streamPrefixes: ['blocklist-'] }), false);
    assert.equal(mayConcern(['message-', 'incoming-'], { streamPrefixes: ['dmarc-report-', 'dmarc-refused-'] }), false);
    assert.equal(mayConcern(['send-'], { streamPrefixes: ['send-limit-'] }), true);
    assert.equal(mayConcern(['message-'], { streamPrefixes: ['message-'] }), true);
    assert.equal(mayConcern(['message-'], undefined), true, 'a reader of every stream');
    assert.equal(mayConcern(undefined, { streamPrefixes: ['blocklist-'] }), true, 'an empty payload');
    assert.deepEqual(streamKinds(''), undefined);
    assert.deepEqual(streamKinds('message-,blocklist-'), ['message-', 'blocklist-']);
  });
});
