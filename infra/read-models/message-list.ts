import type pg from 'pg';

/**
 * What the admin API reads from the message read models (read-api/message-list-routes.ts): the
 * messages matching a search, newest first, and the daily counters.
 */

/** A search of the messages; null: no condition. */
export interface MessageSearch {
  /** The servers whose messages may be listed (null: every server). */
  servers: string[] | null;
  /** Outgoing (sent) or incoming (received for a route) messages. */
  direction: 'outgoing' | 'incoming';
  /** Postal's spam_status of the scanners' verdict (NotSpam, Spam, NotChecked). */
  spamStatus: string | null;
  status: string | null;
  recipient: string | null;
  tag: string | null;
  /** Accepted at or after / before. */
  since: string | null;
  until: string | null;
  /** Free text in the subject. */
  subjectContains: string | null;
  /** The sender (mail_from), a whole address or every address of a domain; both case-insensitive. */
  sender: string | null;
  senderDomain: string | null;
  /** The RFC 5322 Message-ID, without angle brackets (as rm_messages keeps it). */
  rfcMessageId: string | null;
  /** The send request (batch) the messages were accepted in: what the vendor APIs answer as their message id. */
  batchId?: string | null | undefined;
  /** The cursor: the messages after this one in the list's order (accepted_at, message_id descending). */
  before: { at: string; id: string } | null;
  limit: number;
}

/** A message as the list shows it. */
export interface ListedMessage {
  id: string;
  server_id: string;
  batch_id: string;
  rfc_message_id: string;
  mail_from: string;
  rcpt_to: string;
  subject: string;
  tag: string | null;
  source: string;
  size: number;
  status: string;
  held_reason: string | null;
  attempts: number;
  last_reply: string | null;
  bounce_classification: string | null;
  opens: number;
  clicks: number;
  accepted_at: Date;
  last_event_at: Date;
  delivered_at: Date | null;
  direction: 'outgoing' | 'incoming';
  spam_status: string | null;
  spam_score: number | null;
}

/**
 * The messages matching the search, newest first (by acceptance, then id), up to the limit.
 * Incoming messages are read through their own index (migration 22). One
 * server (the dashboard's case) is compared as `server_id = x`: the planner folds the CASE for the
 * parameter's value, and only an equality lets it read rm_messages_server_time in list order (with
 * `= ANY('{x}')` it sorted the server's every row: 320 ms over 400,000, bench/dashboard.ts). The
 * sender's conditions are the expressions of its indexes (messages-schema.ts) as written there.
 */
export async function searchMessages(pool: pg.Pool, s: MessageSearch): Promise<ListedMessage[]> {
  const { rows } = await pool.query<ListedMessage>(searchMessagesQuery(s));
  return rows;
}

/** The statement searchMessages runs, for a test to EXPLAIN it (test/integration/message-list-indexes). */
export function searchMessagesQuery(s: MessageSearch): { text: string; values: unknown[] } {
  // a status filter reads the status table's index in list order (messages-schema.ts, migration 48:
  // rm_messages does not index status) and joins each row it keeps; the list's order, the period and
  // the cursor are then the status table's copies of accepted_at and message_id
  const byStatus = s.status !== null;
  const k = byStatus ? 's' : 'm';
  return {
    text: `SELECT m.message_id::text AS id, m.server_id, m.batch_id, m.rfc_message_id, m.mail_from, m.rcpt_to, m.subject, m.tag,
                  m.source, m.size, m.status, m.held_reason, m.attempts, m.last_reply, m.bounce_classification, m.opens,
                  m.clicks, m.accepted_at, m.last_event_at, m.delivered_at, m.direction, m.spam_status, m.spam_score
             FROM ${byStatus ? 'rm_message_status s JOIN rm_messages m ON m.message_id = s.message_id' : 'rm_messages m'}
            WHERE ($1::uuid[] IS NULL OR CASE WHEN cardinality($1::uuid[]) = 1 THEN ${k}.server_id = ($1::uuid[])[1]
                                              ELSE ${k}.server_id = ANY($1::uuid[]) END)
              AND ${byStatus ? 's.status = $2' : '($2::text IS NULL OR m.status = $2)'}
              AND ($3::text IS NULL OR m.rcpt_to = lower($3))
              AND ($4::text IS NULL OR m.tag = $4)
              AND ($5::timestamptz IS NULL OR ${k}.accepted_at >= $5)
              AND ($6::timestamptz IS NULL OR ${k}.accepted_at < $6)
              AND ($7::text IS NULL OR m.subject ILIKE '%' || replace(replace(replace($7, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')
              AND ($8::timestamptz IS NULL OR (${k}.accepted_at, ${k}.message_id) < ($8::timestamptz, $9::bigint))
              AND ($11::text IS NULL OR lower(m.mail_from) = lower($11))
              AND ($12::text IS NULL OR lower(split_part(m.mail_from, '@', -1)) = lower($12))
              AND ($13::text IS NULL OR m.rfc_message_id = $13)
              AND ${k}.direction = $14
              AND ($15::text IS NULL OR m.spam_status = $15)
              AND ($16::text IS NULL OR m.batch_id = $16)
            ORDER BY ${k}.accepted_at DESC, ${k}.message_id DESC
            LIMIT $10`,
    values: [
      s.servers,
      s.status,
      s.recipient,
      s.tag,
      s.since,
      s.until,
      s.subjectContains,
      s.before?.at ?? null,
      s.before?.id ?? null,
      s.limit,
      s.sender,
      s.senderDomain,
      s.rfcMessageId,
      s.direction,
      s.spamStatus,
      s.batchId ?? null,
    ],
  };
}

/** A server's counters of one day (YYYY-MM-DD): each of STAT_COLUMNS (message-writes.ts) by name. */
export type DailyStatsRow = { server_id: string; day: string } & { [stat: string]: number };

/**
 * The daily counters of these servers (null: every server) from `since` to `until` (days, both
 * included; null: open), by day then server.
 */
export async function dailyStats(
  pool: pg.Pool,
  servers: string[] | null,
  since: string | null,
  until: string | null,
): Promise<DailyStatsRow[]> {
  const { rows } = await pool.query<DailyStatsRow>(
    `SELECT server_id, to_char(day, 'YYYY-MM-DD') AS day, accepted, held, delivered, deferred, bounced, failed, cancelled,
                  opened_total, opened_unique, clicked_total, clicked_unique, complained, unsubscribed
             FROM rm_daily_stats
            WHERE ($1::uuid[] IS NULL OR server_id = ANY($1::uuid[])) AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3)
            ORDER BY day, server_id`,
    [servers, since, until],
  );
  return rows;
}
