import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { messageStreamId } from '../../domain/index.js';
import { MemoryEventStore } from '../../infra/event-store/index.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { HitRecorder, type Hit } from '../../write-side/tracking/hit-recorder.js';
import { eventually } from '../helpers/eventually.js';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js';
import { acceptCommand, deliveredAttempt } from '../helpers/message-commands.js';

/**
 * A recipient's mailbox can open a message before the MTA has recorded its delivery (images fetched on
 * receipt): the hit waits for the delivery rather than being refused as engagement without one.
 */
const AT = '2026-01-01T12:00:00.000Z';
const ID = '00000000-0000-4000-8000-000000000001';
const accept = acceptCommand(ID, AT);
const delivery = deliveredAttempt(AT);
const open = (): Hit => ({
  kind: 'open',
  messageId: ID,
  serverId: 'srv-1',
  ip: '192.0.2.1',
  userAgent: 'Mozilla/5.0',
  at: new Date(),
});

describe('tracking hits that come before the delivery is recorded', () => {
  let store: MemoryEventStore;
  let logs: CapturedLogs;
  let recorded: Hit[];
  const recorder = (o: { waitForDeliveryMs?: number } = {}) =>
    new HitRecorder({
      eventStore: store,
      logger: logs.logger,
      retryDelayMs: 20,
      onRecorded: (hit) => recorded.push(hit),
      ...o,
    });
  const types = async () => (await store.readStream(messageStreamId(ID))).map((e) => e.type);

  beforeEach(async () => {
    store = new MemoryEventStore();
    logs = captureLogs();
    recorded = [];
    assert.ok((await handleMessageCommand(store, ID, accept)).ok);
  });
  afterEach(() => store.close());

  it('wait for it, and are recorded after it', async () => {
    const r = recorder();
    await r.record(open());
    await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(await types(), ['MessageAccepted', 'MessageQueued'], 'not recorded before the delivery');
    assert.equal(r.pending, 1, 'waiting');
    assert.ok((await handleMessageCommand(store, ID, { type: 'RecordDelivery', delivery, at: AT })).ok);
    await eventually(
      async () => ((await types()).includes('MessageOpened') ? true : undefined),
      () => 'the open was never recorded',
    );
    assert.deepEqual(await types(), ['MessageAccepted', 'MessageQueued', 'MessageDelivered', 'MessageOpened']);
    assert.equal(recorded.length, 1);
    assert.equal(r.pending, 0);
    assert.deepEqual(await logs.find('tracking hit not recorded: its message was never delivered'), []);
  });

  it('are dropped, and said so, when no delivery comes in time', async () => {
    const r = recorder({ waitForDeliveryMs: 150 });
    await r.record(open());
    const [line] = await logs.find('tracking hit not recorded: its message was never delivered');
    assert.equal(line?.messageId, ID);
    assert.equal(line?.kind, 'open');
    assert.ok(Number(line?.waitedMs) >= 150, String(line?.waitedMs));
    assert.equal(r.pending, 0);
    assert.deepEqual(await types(), ['MessageAccepted', 'MessageQueued']);
  });

  it('get one last try at shutdown: recorded if the delivery came, else dropped and said so', async () => {
    const r = recorder();
    await r.record(open());
    await eventually(
      async () => (r.pending === 1 && !(await types()).includes('MessageOpened') ? true : undefined),
      () => 'the hit did not wait',
    );
    // the delivery lands between two tries: drain() does not wait for the next one
    assert.ok((await handleMessageCommand(store, ID, { type: 'RecordDelivery', delivery, at: AT })).ok);
    await r.drain();
    assert.ok((await types()).includes('MessageOpened'));

    const other = recorder();
    const id2 = '00000000-0000-4000-8000-000000000002';
    assert.ok(
      (await handleMessageCommand(store, id2, { ...accept, message: { ...accept.message, messageId: id2 } })).ok,
    );
    await other.record({ ...open(), messageId: id2 });
    await other.drain();
    assert.equal(other.pending, 0);
    const dropped = await logs.find('tracking hit not recorded: its message was never delivered');
    assert.equal(dropped.length, 1);
    assert.equal(dropped[0]!.messageId, id2);
  });
});
