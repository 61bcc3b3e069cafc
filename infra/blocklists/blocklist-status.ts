import type pg from 'pg';
import type { BlocklistChange } from '../../domain/index.js';

export const BLOCKLIST_STATUS = 'blocklist_status';

export interface BlocklistStatus {
  kind: 'ip' | 'domain';
  target: string;
  zone: string;
  listed: boolean;
  codes: string[];
  reason: string;
  serverIds: string[];
  since: string;
}

/** A change of state: the row of its (target, list) becomes it. */
export async function putBlocklistStatus(
  client: pg.ClientBase,
  table: string,
  c: BlocklistChange,
  listed: boolean,
): Promise<void> {
  await client.query(
    `INSERT INTO ${table} (kind, target, zone, listed, codes, reason, server_ids, since)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (kind, target, zone) DO UPDATE SET listed = EXCLUDED.listed, codes = EXCLUDED.codes,
       reason = EXCLUDED.reason, server_ids = EXCLUDED.server_ids, since = EXCLUDED.since`,
    [c.kind, c.target.toLowerCase(), c.zone.toLowerCase(), listed, c.codes, c.reason, c.serverIds, c.at],
  );
}

export async function emptyBlocklistStatus(client: pg.ClientBase, table: string): Promise<void> {
  await client.query(`TRUNCATE ${table}`);
}

/** Every (target, list) that was ever listed; `serverIds` given: only domains those servers send from. */
export async function blocklistStatuses(pool: pg.Pool, serverIds: string[] | null): Promise<BlocklistStatus[]> {
  const { rows } = await pool.query(
    `SELECT kind, target, zone, listed, codes, reason, server_ids, since FROM blocklist_status
      WHERE $1::text[] IS NULL OR (kind = 'domain' AND server_ids && $1::text[])
      ORDER BY listed DESC, kind, target, zone`,
    [serverIds],
  );
  return rows.map((r) => ({
    kind: r.kind,
    target: r.target,
    zone: r.zone,
    listed: r.listed,
    codes: r.codes,
    reason: r.reason,
    serverIds: r.server_ids,
    since: (r.since as Date).toISOString(),
  }));
}
