import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { START } from '../../infra/event-store/index.js';
import { EsdbEventStore } from '../../infra/event-store/esdb/esdb-event-store.js';
import { testLogger } from '../helpers/database.js';
import { eventually } from '../helpers/eventually.js';

/*
 * What the EventStoreDB adapter does when its server is gone, with the real client against a
 * loopback TCP listener that accepts every connection and drops it at once (as a server that
 * crashes, restarts or cuts a slow subscriber does). No server is needed for this; the contract
 * suite (esdb-event-store.test.ts) needs one.
 */
describe('esdb adapter: server gone', () => {
  let dropper: Server;
  let url: string;
  let connections = 0;
  const sockets = new Set<Socket>();

  before(async () => {
    dropper = createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.destroy();
    });
    await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', () => r()));
    const address = dropper.address();
    url = `kurrentdb://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}?tls=false`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => dropper.close(r));
  });

  it('is not healthy, and appends and reads fail loudly instead of answering a result', async () => {
    const store = new EsdbEventStore({ url, logger: testLogger });
    try {
      assert.equal(await store.healthy(), false);
      await assert.rejects(
        store.append('message-1', [{ type: 'A', data: {} }], 'no_stream'),
        /UNAVAILABLE|unavailable/i,
      );
      await assert.rejects(store.readAll(START, 10));
      await assert.rejects(store.headCheckpoint());
    } finally {
      await store.close();
    }
  });

  it('a server that accepts connections but never answers is not healthy either (within 2 s)', async () => {
    const held = new Set<Socket>();
    const silent = createServer((socket) => void held.add(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const address = silent.address();
    const store = new EsdbEventStore({
      url: `kurrentdb://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}?tls=false`,
      logger: testLogger,
    });
    try {
      const started = Date.now();
      assert.equal(await store.healthy(), false);
      assert.ok(Date.now() - started < 4000, `answered in ${Date.now() - started} ms`);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => silent.close(r));
      await store.close();
    }
  });

  it('a dropped subscription resubscribes from its checkpoint with growing back-off, and stops cleanly', async () => {
    const drops: number[] = [];
    const store = new EsdbEventStore({
      url,
      logger: testLogger,
      resubscribeMs: 40,
      maxResubscribeMs: 320,
      onResubscribe: () => drops.push(Date.now()),
    });
    try {
      const before = connections;
      const sub = store.subscribeAll({ from: START, filter: { streamPrefixes: ['message-'] } }, () =>
        assert.fail('no events can arrive'),
      );
      let settled = false;
      void sub.done.finally(() => (settled = true));
      await eventually(
        async () => (drops.length >= 5 ? true : undefined),
        () => `five resubscriptions (saw ${drops.length})`,
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      assert.ok(connections > before, 'the client reconnected to the server');
      const gaps = drops.slice(1).map((t, i) => t - drops[i]!);
      assert.ok(gaps[gaps.length - 1]! > gaps[0]!, `back-off grows: ${gaps.join(', ')} ms`);
      assert.equal(settled, false, 'a server failure does not end the subscription');
      assert.equal(sub.checkpoint, START, 'it resumes from the last checkpoint handled');
      await sub.stop();
      await sub.done;
    } finally {
      await store.close();
    }
  });

  it('"from the end" waits for the server instead of failing', async () => {
    const drops: number[] = [];
    const store = new EsdbEventStore({
      url,
      logger: testLogger,
      resubscribeMs: 40,
      maxResubscribeMs: 80,
      onResubscribe: () => drops.push(Date.now()),
    });
    try {
      const sub = store.subscribeAll({ from: 'end' }, () => undefined);
      await eventually(
        async () => (drops.length >= 2 ? true : undefined),
        () => `two attempts to find the end of the log (saw ${drops.length})`,
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      await sub.stop();
      await sub.done;
    } finally {
      await store.close();
    }
  });
});
