import type pg from 'pg';
import { messageEventCodec } from '../../domain/index.js';
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
}

/**
 * The delivery queue as a projection of the log: a row per message that may still be delivered,
 * with its due time (NULL while held). Final outcomes remove the row; a deferral moves due_at and
 * frees the lease. A batch is folded in memory to its net effect per message, then written with
 * three statements, whatever its size.
 */
export const deliveryQueueProjection: PostgresProjection = {
  name: 'delivery-queue',
  version: 1,
  filter: { streamPrefixes: ['message-'] },
  tables: ['delivery_queue'],
  // leases belong to the MTA workers, not to the log
  volatileColumns: { delivery_queue: ['lease_owner', 'lease_until'] },
  keys: { delivery_queue: 'message_id' },
  async reset(client, t) {
    await client.query(`DELETE FROM ${t('delivery_queue')}`);
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
    c = { addAttempts: 0, clearLease: false, clearDelay: false, remove: false };
    changes.set(id, c);
  }
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
  const table = t('delivery_queue');
  const removed = [...changes].filter(([, c]) => c.remove).map(([id]) => id);
  const inserts = [...changes].filter(([, c]) => !c.remove && c.insert);
  const updates = [...changes].filter(
    ([, c]) => !c.remove && !c.insert && (c.dueAt !== undefined || c.addAttempts > 0 || c.clearLease || c.clearDelay),
  );
  if (removed.length > 0) await client.query(`DELETE FROM ${table} WHERE message_id = ANY($1::bigint[])`, [removed]);
  if (inserts.length > 0) {
    const col = <T>(f: (id: number, c: Change & { insert: NewRow }) => T) =>
      inserts.map(([id, c]) => f(id, c as Change & { insert: NewRow }));
    await client.query(
      `INSERT INTO ${table} (message_id, server_id, mail_from, rcpt_to, recipient_domain, content_hash, token, accepted_at, due_at, attempts)
       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::int[])
       ON CONFLICT (message_id) DO NOTHING`,
      [
        col((id) => id),
        col((_, c) => c.insert.serverId),
        col((_, c) => c.insert.from),
        col((_, c) => c.insert.to),
        col((_, c) => c.insert.to.slice(c.insert.to.lastIndexOf('@') + 1).toLowerCase()),
        col((_, c) => c.insert.contentHash),
        col((_, c) => c.insert.token),
        col((_, c) => c.insert.acceptedAt),
        col((_, c) => c.dueAt ?? null),
        col((_, c) => c.addAttempts),
      ],
    );
  }
  if (updates.length > 0) {
    await client.query(
      `UPDATE ${table} q SET
         due_at = CASE WHEN u.set_due THEN u.due_at ELSE q.due_at END,
         attempts = q.attempts + u.add_attempts,
         lease_owner = CASE WHEN u.clear_lease THEN NULL ELSE q.lease_owner END,
         lease_until = CASE WHEN u.clear_lease OR (u.clear_delay AND q.lease_owner IS NULL) THEN NULL ELSE q.lease_until END
       FROM unnest($1::bigint[], $2::boolean[], $3::timestamptz[], $4::int[], $5::boolean[], $6::boolean[]) AS u(id, set_due, due_at, add_attempts, clear_lease, clear_delay)
       WHERE q.message_id = u.id`,
      [
        updates.map(([id]) => id),
        updates.map(([, c]) => c.dueAt !== undefined),
        updates.map(([, c]) => c.dueAt ?? null),
        updates.map(([, c]) => c.addAttempts),
        updates.map(([, c]) => c.clearLease),
        updates.map(([, c]) => c.clearDelay),
      ],
    );
  }
}
