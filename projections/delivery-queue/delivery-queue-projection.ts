import type pg from 'pg';
import { evolve, initialState, messageEventCodec } from '../../domain/index.js';
import {
  changeQueueRows,
  DELIVERY_QUEUE,
  emptyQueue,
  insertQueueRows,
  type KeptState,
  removeQueueRows,
} from '../../infra/delivery-queue/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import type { PostgresProjection, TableNames } from '../runner.js';

interface NewRow {
  serverId: string;
  from: string;
  to: string;
  contentHash: string;
  token: string;
  acceptedAt: string;
}

/** The net effect of a batch on one message's queue row. */
interface Change {
  insert?: NewRow;
  /** undefined: unchanged; null: not deliverable (held) */
  dueAt?: string | null;
  addAttempts: number;
  clearLease: boolean;
  /** Queued again (released, or "retry now"): a delay a worker put on the row no longer holds. */
  clearDelay: boolean;
  remove: boolean;
  /** Redelivered: the row (gone with the final outcome, or a stale one) is written afresh. */
  replace: boolean;
  /**
   * The message's state, folded from its stream's first event (MessageAccepted, revision 0) over
   * every later event in this batch: kept in the new row for the MTA (infra/delivery-queue/schema.ts,
   * migration 47). A message accepted in an earlier batch has none here.
   */
  kept?: KeptState;
}

/**
 * The delivery queue as a projection of the log: a row per message that may still be delivered,
 * with its due time (NULL while held). Final outcomes remove the row; a deferral moves due_at and
 * frees the lease. A batch is folded in memory to its net effect per message, then written with
 * three statements, whatever its size (infra/delivery-queue/projection-writes.ts).
 */
export const deliveryQueueProjection: PostgresProjection = {
  name: 'delivery-queue',
  version: 1,
  filter: { streamPrefixes: ['message-'] },
  tables: [DELIVERY_QUEUE],
  // leases belong to the MTA workers, not to the log; the kept state is a cache whose presence
  // depends on how the log was cut into batches (the MTA checks its revision before using it)
  volatileColumns: { [DELIVERY_QUEUE]: ['lease_owner', 'lease_until', 'state', 'revision'] },
  keys: { [DELIVERY_QUEUE]: 'message_id' },
  async reset(client, t) {
    await emptyQueue(client, t(DELIVERY_QUEUE));
  },
  async apply(client, events, t) {
    const changes = new Map<number, Change>();
    for (const r of events) fold(changes, r);
    await write(client, changes, t);
  },
};

function fold(changes: Map<number, Change>, r: RecordedEvent): void {
  const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
  if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
  const e = decoded.value;
  const id = Number(r.streamId.slice('message-'.length));
  let c = changes.get(id);
  if (!c) {
    c = { addAttempts: 0, clearLease: false, clearDelay: false, remove: false, replace: false };
    changes.set(id, c);
  }
  if (e.type === 'MessageAccepted' && r.revision === 0) c.kept = { state: evolve(initialState(), e), revision: 0 };
  else if (c.kept) c.kept = { state: evolve(c.kept.state, e), revision: r.revision };
  switch (e.type) {
    case 'MessageAccepted':
      c.insert = {
        serverId: e.data.serverId,
        from: e.data.from,
        to: e.data.to,
        contentHash: e.data.contentHash,
        token: e.data.token,
        acceptedAt: e.data.at,
      };
      return;
    case 'MessageRedeliveryRequested':
      // a new series of attempts, its age counted from now (the retry schedule gives up by age)
      c.insert = {
        serverId: e.data.serverId,
        from: e.data.from,
        to: e.data.to,
        contentHash: e.data.contentHash,
        token: e.data.token,
        acceptedAt: e.data.at,
      };
      c.remove = false;
      c.replace = true;
      c.addAttempts = 0;
      c.dueAt = undefined;
      // folded from the middle of its stream: not the message's whole state
      delete c.kept;
      return;
    case 'MessageQueued':
      // a lease stays: a worker may be sending this very message (retry-now refuses leased ones);
      // a delay without an owner (a worker gave the message back "not before" some time, e.g. its
      // server was suspended) gives way to the operator's decision
      c.dueAt = e.data.dueAt;
      c.clearDelay = true;
      return;
    case 'MessageHeld':
      c.dueAt = null;
      return;
    case 'MessageDeferred':
      c.dueAt = e.data.nextAttemptAt;
      c.addAttempts++;
      c.clearLease = true;
      return;
    case 'MessageDelivered':
    case 'MessageFailed':
    case 'MessageCancelled':
      c.remove = true;
      return;
    case 'MessageBounced':
      if (e.data.kind === 'sync') c.remove = true;
      return;
    default:
      return;
  }
}

async function write(client: pg.PoolClient, changes: Map<number, Change>, t: TableNames): Promise<void> {
  const table = t(DELIVERY_QUEUE);
  const removed = [...changes].filter(([, c]) => c.remove || c.replace).map(([id]) => id);
  const inserts = [...changes].filter(([, c]) => !c.remove && c.insert);
  const updates = [...changes].filter(
    ([, c]) => !c.remove && !c.insert && (c.dueAt !== undefined || c.addAttempts > 0 || c.clearLease || c.clearDelay),
  );
  await removeQueueRows(client, table, removed);
  await insertQueueRows(
    client,
    table,
    inserts.map(([id, c]) => {
      const row = c.insert!;
      return {
        messageId: id,
        serverId: row.serverId,
        mailFrom: row.from,
        rcptTo: row.to,
        recipientDomain: row.to.slice(row.to.lastIndexOf('@') + 1).toLowerCase(),
        contentHash: row.contentHash,
        token: row.token,
        acceptedAt: row.acceptedAt,
        dueAt: c.dueAt ?? null,
        attempts: c.addAttempts,
        ...(c.kept ? { kept: c.kept } : {}),
      };
    }),
  );
  await changeQueueRows(
    client,
    table,
    updates.map(([id, c]) => ({
      messageId: id,
      setDue: c.dueAt !== undefined,
      dueAt: c.dueAt ?? null,
      addAttempts: c.addAttempts,
      clearLease: c.clearLease,
      clearDelay: c.clearDelay,
    })),
  );
}
