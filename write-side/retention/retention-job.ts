import type pg from 'pg';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { handleMessageCommand } from '../message-command-handler.js';

const RETENTION_LOCK = 7_303_417_002;

export interface RetentionDeps {
  pool: pg.Pool;
  eventStore: EventStore;
  logger: Logger;
}

export interface RetentionRun {
  expired: number;
  contentsDeleted: number;
}

/**
 * Message retention (Postal #760, #1137): past its server's retention period a message's raw
 * content is deleted and a ContentExpired event marks the moment; the events stay, so auditors
 * keep the history while storage stops growing. Content shared by several messages goes only
 * when none of them still needs it. One process at a time (advisory lock).
 */
export async function runRetention(deps: RetentionDeps, now = new Date(), limit = 5000): Promise<RetentionRun> {
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: lock } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RETENTION_LOCK]);
    if (!lock[0]?.ok) {
      await client.query('ROLLBACK');
      return { expired: 0, contentsDeleted: 0 };
    }
    const { rows } = await client.query<{ id: string; retention_days: number }>(
      `SELECT m.message_id::text AS id, s.retention_days
         FROM rm_messages m JOIN servers s ON s.id = m.server_id
        WHERE NOT m.content_expired
          AND m.status IN ('delivered', 'bounced', 'failed', 'cancelled', 'held')
          AND m.accepted_at < $1::timestamptz - make_interval(days => s.retention_days)
        ORDER BY m.accepted_at LIMIT $2`,
      [now.toISOString(), limit],
    );
    let expired = 0;
    for (const r of rows) {
      const result = await handleMessageCommand(deps.eventStore, r.id, { type: 'ExpireContent', retentionDays: r.retention_days, at: now.toISOString() }, { actor: 'retention' });
      if (result.ok && result.value.events.length > 0) expired++;
      else if (!result.ok && result.error.code !== 'MESSAGE_IN_FLIGHT') deps.logger.warn({ messageId: r.id, error: result.error }, 'content could not be expired');
    }
    // content no unexpired message refers to (the read model may lag: only content older than a day)
    const deleted = await client.query(
      `DELETE FROM contents c
        WHERE c.created_at < $1::timestamptz - interval '1 day'
          AND NOT EXISTS (SELECT 1 FROM rm_messages m WHERE m.content_hash = c.sha256 AND NOT m.content_expired)
          AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.content_hash = c.sha256)`,
      [now.toISOString()],
    );
    await client.query('COMMIT');
    if (expired > 0 || (deleted.rowCount ?? 0) > 0) deps.logger.info({ expired, contentsDeleted: deleted.rowCount }, 'retention: message content removed');
    return { expired, contentsDeleted: deleted.rowCount ?? 0 };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
