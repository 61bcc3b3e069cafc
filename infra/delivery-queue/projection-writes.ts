import type pg from 'pg';
import { keptStateColumn, type KeptState } from './kept-state.js';

/**
 * The delivery-queue projection's statements (projections/delivery-queue/). Each takes the name of
 * the table to write: the live one, or the copy a rebuild fills (projections/runner.ts, TableNames).
 */

/** A row for a message accepted in the batch, with what the rest of the batch did to it. */
export interface NewQueueRow {
  messageId: number;
  serverId: string;
  mailFrom: string;
  rcptTo: string;
  recipientDomain: string;
  contentHash: string;
  token: string;
  acceptedAt: string;
  /** null: not deliverable (held, or not queued yet) */
  dueAt: string | null;
  attempts: number;
  /** The message's state folded from its stream's first event to `revision` (undefined: not kept). */
  kept?: KeptState;
}

/** The net effect of a batch on a row that exists. */
export interface QueueRowChange {
  messageId: number;
  /** false: due_at stays as it is */
  setDue: boolean;
  dueAt: string | null;
  addAttempts: number;
  /** a deferral ends the worker's lease */
  clearLease: boolean;
  /** queued again: a delay a worker put on the row (an ownerless lease_until) no longer holds */
  clearDelay: boolean;
}

export async function emptyQueue(client: pg.PoolClient, table: string): Promise<void> {
  await client.query(`DELETE FROM ${table}`);
}

/** The rows of messages with a final outcome. */
export async function removeQueueRows(client: pg.PoolClient, table: string, messageIds: number[]): Promise<void> {
  if (messageIds.length === 0) return;
  await client.query(`DELETE FROM ${table} WHERE message_id = ANY($1::bigint[])`, [messageIds]);
}

/** New rows, one statement for the batch; a row that exists already stays as it is. */
export async function insertQueueRows(client: pg.PoolClient, table: string, rows: NewQueueRow[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: NewQueueRow) => T) => rows.map(f);
  await client.query(
    `INSERT INTO ${table} (message_id, server_id, mail_from, rcpt_to, recipient_domain, content_hash, token, accepted_at, due_at, attempts, state, revision)
       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::int[], $11::jsonb[], $12::bigint[])
       ON CONFLICT (message_id) DO NOTHING`,
    [
      col((r) => r.messageId),
      col((r) => r.serverId),
      col((r) => r.mailFrom),
      col((r) => r.rcptTo),
      col((r) => r.recipientDomain),
      col((r) => r.contentHash),
      col((r) => r.token),
      col((r) => r.acceptedAt),
      col((r) => r.dueAt),
      col((r) => r.attempts),
      col((r) => (r.kept ? keptStateColumn(r.kept) : null)),
      col((r) => r.kept?.revision ?? null),
    ],
  );
}

/**
 * Changes to existing rows, one statement for the batch. A lease a worker holds stays unless
 * `clearLease`. The kept state goes: the stream has moved on from it.
 */
export async function changeQueueRows(client: pg.PoolClient, table: string, changes: QueueRowChange[]): Promise<void> {
  if (changes.length === 0) return;
  await client.query(
    `UPDATE ${table} q SET
         due_at = CASE WHEN u.set_due THEN u.due_at ELSE q.due_at END,
         attempts = q.attempts + u.add_attempts,
         lease_owner = CASE WHEN u.clear_lease THEN NULL ELSE q.lease_owner END,
         lease_until = CASE WHEN u.clear_lease OR (u.clear_delay AND q.lease_owner IS NULL) THEN NULL ELSE q.lease_until END,
         state = NULL,
         revision = NULL
       FROM unnest($1::bigint[], $2::boolean[], $3::timestamptz[], $4::int[], $5::boolean[], $6::boolean[]) AS u(id, set_due, due_at, add_attempts, clear_lease, clear_delay)
       WHERE q.message_id = u.id`,
    [
      changes.map((c) => c.messageId),
      changes.map((c) => c.setDue),
      changes.map((c) => c.dueAt),
      changes.map((c) => c.addAttempts),
      changes.map((c) => c.clearLease),
      changes.map((c) => c.clearDelay),
    ],
  );
}
