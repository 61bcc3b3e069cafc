import type pg from 'pg';

/** What a Postal row became in Postlog. */
export type ImportedKind = 'organization' | 'server' | 'domain' | 'credential' | 'webhook' | 'route' | 'message';

/** Which Postlog record each imported Postal row became (postal_import_map): a rerun creates nothing twice. */
export class PostalImportMap {
  constructor(private readonly pool: pg.Pool) {}

  async get(kind: ImportedKind, postalId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ postlog_id: string }>(
      'SELECT postlog_id FROM postal_import_map WHERE kind = $1 AND postal_id = $2',
      [kind, postalId],
    );
    return rows[0]?.postlog_id;
  }

  /** What many rows of one kind became: those found. */
  async getMany(kind: ImportedKind, postalIds: string[]): Promise<Map<string, string>> {
    const { rows } = await this.pool.query<{ postal_id: string; postlog_id: string }>(
      'SELECT postal_id, postlog_id FROM postal_import_map WHERE kind = $1 AND postal_id = ANY($2::text[])',
      [kind, postalIds],
    );
    return new Map(rows.map((r) => [r.postal_id, r.postlog_id]));
  }

  /** Records what many new rows of one kind became (rows recorded already keep theirs). */
  async setMany(kind: ImportedKind, pairs: [postalId: string, postlogId: string][]): Promise<void> {
    if (pairs.length === 0) return;
    await this.pool.query(
      `INSERT INTO postal_import_map (kind, postal_id, postlog_id)
       SELECT $1, p, l FROM unnest($2::text[], $3::text[]) AS t(p, l) ON CONFLICT (kind, postal_id) DO NOTHING`,
      [kind, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );
  }

  /** Records (or, after its record was deleted in Postlog and made again, replaces) what a row became. */
  async set(kind: ImportedKind, postalId: string, postlogId: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO postal_import_map (kind, postal_id, postlog_id) VALUES ($1, $2, $3)
       ON CONFLICT (kind, postal_id) DO UPDATE SET postlog_id = excluded.postlog_id, imported_at = now()`,
      [kind, postalId, postlogId],
    );
  }
}
