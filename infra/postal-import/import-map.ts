import type pg from 'pg';

/** What a Postal row became in Postlog. */
export type ImportedKind = 'organization' | 'server' | 'domain' | 'credential' | 'webhook' | 'route';

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

  /** Records (or, after its record was deleted in Postlog and made again, replaces) what a row became. */
  async set(kind: ImportedKind, postalId: string, postlogId: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO postal_import_map (kind, postal_id, postlog_id) VALUES ($1, $2, $3)
       ON CONFLICT (kind, postal_id) DO UPDATE SET postlog_id = excluded.postlog_id, imported_at = now()`,
      [kind, postalId, postlogId],
    );
  }
}
