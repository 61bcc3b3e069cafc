import type pg from 'pg';
import { messageEventCodec, type MessageEvent } from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import type { PostgresProjection } from '../runner.js';

/**
 * The delivery queue as a projection of the log: a row per message that may still be delivered,
 * with its due time (NULL while held). Final outcomes remove the row; a deferral moves due_at and
 * frees the lease.
 */
export const deliveryQueueProjection: PostgresProjection = {
  name: 'delivery-queue',
  version: 1,
  filter: { streamPrefixes: ['message-'] },
  async reset(client) {
    await client.query('DELETE FROM delivery_queue');
  },
  async apply(client, events) {
    for (const r of events) {
      const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
      await applyOne(client, r, decoded.value);
    }
  },
};

async function applyOne(client: pg.PoolClient, r: RecordedEvent, e: MessageEvent): Promise<void> {
  const id = Number(r.streamId.slice('message-'.length));
  switch (e.type) {
    case 'MessageAccepted': {
      const d = e.data;
      await client.query(
        `INSERT INTO delivery_queue (message_id, server_id, mail_from, rcpt_to, recipient_domain, content_hash, token, accepted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (message_id) DO NOTHING`,
        [id, d.serverId, d.from, d.to, d.to.slice(d.to.lastIndexOf('@') + 1).toLowerCase(), d.contentHash, d.token, d.at],
      );
      return;
    }
    case 'MessageQueued':
      await client.query('UPDATE delivery_queue SET due_at = $2, lease_owner = NULL, lease_until = NULL WHERE message_id = $1', [id, e.data.dueAt]);
      return;
    case 'MessageHeld':
      await client.query('UPDATE delivery_queue SET due_at = NULL WHERE message_id = $1', [id]);
      return;
    case 'MessageDeferred':
      await client.query('UPDATE delivery_queue SET due_at = $2, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL WHERE message_id = $1', [
        id,
        e.data.nextAttemptAt,
      ]);
      return;
    case 'MessageDelivered':
    case 'MessageFailed':
    case 'MessageCancelled':
      await client.query('DELETE FROM delivery_queue WHERE message_id = $1', [id]);
      return;
    case 'MessageBounced':
      if (e.data.kind === 'sync') await client.query('DELETE FROM delivery_queue WHERE message_id = $1', [id]);
      return;
    default:
      return;
  }
}
