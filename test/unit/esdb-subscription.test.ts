import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { AllStreamResolvedEvent, Position, ReadPosition } from '@kurrent/kurrentdb-client';
import { START, type RecordedEvent } from '../../infra/event-store/index.js';
import { encodeEventMetadata } from '../../infra/event-store/esdb/mapping.js';
import { EsdbSubscription, type RecordStream } from '../../infra/event-store/esdb/subscription.js';
import { testLogger } from '../helpers/database.js';

/*
 * The subscription's own logic — batching, the exact filter, resubscribing from the last
 * checkpoint handled without repeating events, handler failures — over record streams built from
 * recorded $all data in real Node streams (what the client's subscribeToAll returns is such a
 * stream). The client and server are not involved: esdb-without-server.test.ts runs the real client
 * against dropped connections, the contract suite runs against a real server.
 */

interface Rec {
  streamId: string;
  type: string;
  position: Position;
}

const record = (r: Rec, i: number): AllStreamResolvedEvent =>
  ({
    event: {
      streamId: r.streamId,
      id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      revision: 0n,
      type: r.type,
      created: new Date(0),
      isJson: true,
      data: { i },
      metadata: encodeEventMetadata(1, {}),
      position: r.position,
    },
    commitPosition: r.position.commit,
  }) as AllStreamResolvedEvent;

function makeLog(n: number, shape: (i: number) => Partial<Rec> = () => ({})): Rec[] {
  return Array.from({ length: n }, (_, i) => ({
    streamId: `message-${i % 5}`,
    type: 'MessageQueued',
    position: { commit: BigInt((i + 1) * 10), prepare: BigInt((i + 1) * 10) },
    ...shape(i),
  }));
}

/**
 * A $all "server" over `log`: each open starts at `from` (inclusive, as a server may), sends what
 * it has, then says caught up and stays open, unless `drop` says to fail that subscription after
 * some records (a dropped slow subscriber).
 */
function server(
  log: Rec[],
  drop: (attempt: number) => number | undefined = () => undefined,
  { drainFirst = true } = {},
) {
  const opened: ReadPosition[] = [];
  const streams: (Readable & RecordStream)[] = [];
  const open = (from: ReadPosition): RecordStream => {
    const attempt = opened.push(from);
    const start =
      from === 'start'
        ? 0
        : log.findIndex(
            (r) =>
              typeof from !== 'string' &&
              (r.position.commit > from.commit ||
                (r.position.commit === from.commit && r.position.prepare >= from.prepare)),
          );
    const records = start < 0 ? [] : log.slice(start).map((r) => record(r, log.indexOf(r)));
    const failAfter = drop(attempt);
    const stream = Object.assign(new Readable({ objectMode: true, read() {} }), {
      unsubscribe: async () => void stream.destroy(),
    });
    setImmediate(async () => {
      for (const [k, r] of records.entries()) {
        if (failAfter !== undefined && k === failAfter) {
          // the consumer has taken what was sent (records still buffered when a stream fails are lost, and resent after resubscribing)
          while (drainFirst && stream.readableLength > 0) await new Promise((res) => setTimeout(res, 1));
          if (drainFirst) await new Promise((res) => setTimeout(res, 5));
          return stream.destroy(new Error('subscription dropped: consumer too slow'));
        }
        stream.push(r);
      }
      stream.emit('caughtUp', {});
    });
    streams.push(stream);
    return stream;
  };
  return { open, opened, streams };
}

function subscribe(
  open: (from: ReadPosition) => RecordStream,
  handler: (batch: RecordedEvent[]) => unknown,
  options: {
    batchSize?: number;
    filter?: { streamPrefixes?: string[]; types?: string[] };
    onResubscribe?: () => void;
  } = {},
) {
  return new EsdbSubscription({
    open,
    from: START,
    ...(options.filter ? { filter: options.filter } : {}),
    batchSize: options.batchSize ?? 7,
    handler: async (batch) => void (await handler(batch)),
    logger: testLogger,
    head: async () => START,
    initialRetryMs: 5,
    maxRetryMs: 20,
    ...(options.onResubscribe ? { onResubscribe: options.onResubscribe } : {}),
  });
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('esdb subscription', () => {
  it('catching up, it hands over full batches, then the rest once caught up', async () => {
    const log = makeLog(60);
    const srv = server(log);
    const sizes: number[] = [];
    const seen: RecordedEvent[] = [];
    const sub = subscribe(srv.open, (b) => {
      sizes.push(b.length);
      seen.push(...b);
    });
    await until(() => seen.length === 60, 'all 60 events');
    assert.deepEqual(sizes, [7, 7, 7, 7, 7, 7, 7, 7, 4]);
    assert.equal(sub.checkpoint, '600:600');
    await sub.stop();
    await sub.done;
  });

  it('a dropped subscription resumes after the last batch handled: every event once, in order', async () => {
    const log = makeLog(100);
    // the first two subscriptions are dropped part-way (after 30 and 25 records)
    const srv = server(log, (attempt) => (attempt === 1 ? 30 : attempt === 2 ? 25 : undefined));
    const seen: RecordedEvent[] = [];
    let drops = 0;
    const sub = subscribe(srv.open, (b) => void seen.push(...b), { batchSize: 10, onResubscribe: () => drops++ });
    await until(() => seen.length >= 100, 'all 100 events');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(drops, 2);
    assert.equal(srv.opened.length, 3);
    assert.deepEqual(
      srv.opened[1],
      { commit: 300n, prepare: 300n },
      'resubscribed from the checkpoint of the last batch handled',
    );
    assert.deepEqual(
      seen.map((e) => e.position),
      log.map((r) => Number(r.position.prepare)),
      'no loss, no repetition (the server resent the event at the checkpoint)',
    );
    await sub.stop();
  });

  it('records still buffered when the stream fails are not lost: they come again after resubscribing', async () => {
    const log = makeLog(50);
    const srv = server(log, (attempt) => (attempt <= 3 ? 17 : undefined), { drainFirst: false });
    const seen: RecordedEvent[] = [];
    const sub = subscribe(srv.open, (b) => void seen.push(...b), { batchSize: 4 });
    await until(() => seen.length >= 50, 'all 50 events');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(srv.opened.length >= 4);
    assert.deepEqual(
      seen.map((e) => e.position),
      log.map((r) => Number(r.position.prepare)),
    );
    await sub.stop();
  });

  it('applies the exact filter: both halves, and no system events', async () => {
    const log = makeLog(40, (i) =>
      i % 4 === 0
        ? { streamId: `$$message-${i}`, type: '$metadata' }
        : i % 4 === 1
          ? { type: 'MessageDelivered' }
          : i % 4 === 2
            ? { streamId: `server-${i}` }
            : {},
    );
    const srv = server(log);
    const seen: RecordedEvent[] = [];
    const sub = subscribe(srv.open, (b) => void seen.push(...b), {
      filter: { streamPrefixes: ['message-'], types: ['MessageQueued'] },
    });
    await until(() => seen.length === 10, 'the 10 matching events');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, 10);
    assert.ok(seen.every((e) => e.streamId.startsWith('message-') && e.type === 'MessageQueued'));
    await sub.stop();
  });

  it('a handler error ends the subscription with that error, without resubscribing', async () => {
    const srv = server(makeLog(5));
    const sub = subscribe(srv.open, () => {
      throw new Error('projection bug');
    });
    await assert.rejects(sub.done, /projection bug/);
    assert.equal(srv.opened.length, 1);
    assert.equal(sub.checkpoint, START, 'the failed batch did not move the checkpoint');
  });

  it('stops while live, and the stream it held is released', async () => {
    const srv = server(makeLog(3));
    const seen: RecordedEvent[] = [];
    const sub = subscribe(srv.open, (b) => void seen.push(...b));
    await until(() => seen.length === 3, 'the 3 events');
    await sub.stop();
    await sub.done;
    assert.ok(srv.streams.every((s) => s.destroyed));
  });
});
