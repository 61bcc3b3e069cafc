import type pg from 'pg';

export const REPUTATION_COUNTS = 'reputation_counts';
export const REPUTATION_SENDERS = 'reputation_senders';

/** One minute's counts of one sending domain of one server. */
export interface ReputationCountRow {
  serverId: string;
  sendingDomain: string;
  /** ISO 8601, on the minute. */
  minute: string;
  delivered: number;
  bounced: number;
  hardBounces: number;
  complaints: number;
}

export interface ReputationSender {
  messageId: string;
  serverId: string;
  sendingDomain: string;
}

export async function saveReputationSenders(
  client: pg.ClientBase,
  table: string,
  senders: ReputationSender[],
): Promise<void> {
  if (senders.length === 0) return;
  await client.query(
    `INSERT INTO ${table} (message_id, server_id, sending_domain)
       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[])
     ON CONFLICT (message_id) DO NOTHING`,
    [senders.map((s) => s.messageId), senders.map((s) => s.serverId), senders.map((s) => s.sendingDomain)],
  );
}

/** The server and sending domain of each message known (by message id). */
export async function reputationSendersOf(
  client: pg.ClientBase,
  table: string,
  messageIds: string[],
): Promise<Map<string, ReputationSender>> {
  if (messageIds.length === 0) return new Map();
  const { rows } = await client.query<{ message_id: string; server_id: string; sending_domain: string }>(
    `SELECT message_id::text, server_id::text, sending_domain FROM ${table} WHERE message_id = ANY($1::bigint[])`,
    [messageIds],
  );
  return new Map(
    rows.map((r) => [
      r.message_id,
      { messageId: r.message_id, serverId: r.server_id, sendingDomain: r.sending_domain },
    ]),
  );
}

/** Adds a batch's counts to the rows (one statement). */
export async function addReputationCounts(
  client: pg.ClientBase,
  table: string,
  rows: ReputationCountRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ${table} AS c (server_id, sending_domain, minute, delivered, bounced, hard_bounces, complaints)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[],
                            $7::bigint[])
     ON CONFLICT (server_id, sending_domain, minute) DO UPDATE SET
       delivered = c.delivered + EXCLUDED.delivered,
       bounced = c.bounced + EXCLUDED.bounced,
       hard_bounces = c.hard_bounces + EXCLUDED.hard_bounces,
       complaints = c.complaints + EXCLUDED.complaints`,
    [
      rows.map((r) => r.serverId),
      rows.map((r) => r.sendingDomain),
      rows.map((r) => r.minute),
      rows.map((r) => r.delivered),
      rows.map((r) => r.bounced),
      rows.map((r) => r.hardBounces),
      rows.map((r) => r.complaints),
    ],
  );
}

export async function emptyReputationTables(client: pg.ClientBase, tables: string[]): Promise<void> {
  await client.query(`TRUNCATE ${tables.join(', ')}`);
}

/** A server and sending domain with counts since a time ('' domain: the server, all its domains). */
export interface ReputationScopeQuery {
  serverId: string;
  domain: string;
  since: string;
}

export interface ReputationScopeCounts extends ReputationScopeQuery {
  delivered: number;
  bounced: number;
  hardBounces: number;
  complaints: number;
}

/** The server and domain pairs with counts since `since` (the scopes a check looks at), servers among `servers`. */
export async function reputationScopesSince(
  pool: pg.Pool,
  since: string,
  servers: string[] | null,
): Promise<{ serverId: string; domain: string }[]> {
  const { rows } = await pool.query<{ server_id: string; sending_domain: string }>(
    `SELECT DISTINCT server_id::text, sending_domain FROM reputation_counts
      WHERE minute >= date_trunc('minute', $1::timestamptz) AND ($2::uuid[] IS NULL OR server_id = ANY($2::uuid[]))
      ORDER BY 1, 2`,
    [since, servers],
  );
  return rows.map((r) => ({ serverId: r.server_id, domain: r.sending_domain }));
}

/**
 * The sums of each scope from its `since`, counted by whole minutes: from the first minute that starts
 * at or after it (what came before a resume in the same minute must not pause again). A scope with
 * domain '' sums every domain of the server.
 */
export async function reputationCountsOf(
  pool: pg.Pool,
  scopes: ReputationScopeQuery[],
): Promise<ReputationScopeCounts[]> {
  if (scopes.length === 0) return [];
  const { rows } = await pool.query<{
    i: number;
    delivered: string;
    bounced: string;
    hard_bounces: string;
    complaints: string;
  }>(
    `SELECT s.i, coalesce(sum(c.delivered), 0) AS delivered, coalesce(sum(c.bounced), 0) AS bounced,
            coalesce(sum(c.hard_bounces), 0) AS hard_bounces, coalesce(sum(c.complaints), 0) AS complaints
       FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS s(server_id, domain, since, i)
       LEFT JOIN reputation_counts c
         ON c.server_id = s.server_id AND (s.domain = '' OR c.sending_domain = s.domain)
        -- from the first whole minute at or after since: a minute a resume fell in counts no more
        AND c.minute >= date_trunc('minute', s.since + interval '59.999999 seconds')
      GROUP BY s.i ORDER BY s.i`,
    [scopes.map((s) => s.serverId), scopes.map((s) => s.domain), scopes.map((s) => s.since)],
  );
  return rows.map((r) => ({
    ...scopes[Number(r.i) - 1]!,
    delivered: Number(r.delivered),
    bounced: Number(r.bounced),
    hardBounces: Number(r.hard_bounces),
    complaints: Number(r.complaints),
  }));
}
