import type pg from 'pg';

export type IdempotencyBegin =
  | { kind: 'new'; messageIds: number[] }
  /** A request with this key was interrupted: continue it with the same ids (appends are idempotent). */
  | { kind: 'resume'; messageIds: number[] }
  | { kind: 'replay'; statusCode: number; response: unknown }
  | { kind: 'mismatch' }
  | { kind: 'in_progress' };

/**
 * Idempotency-Key bookkeeping. The message ids of a request are reserved with its key before
 * anything is appended; a retry of the same body gets the stored answer, or (when the first try
 * died mid-way) the same ids again, and since event ids derive from the key, re-appending
 * writes nothing twice.
 */
export class IdempotencyKeys {
  constructor(
    private readonly pool: pg.Pool,
    private readonly staleAfterMs = 30_000,
  ) {}

  async begin(
    serverId: string,
    key: string,
    requestSha256: string,
    allocate: () => Promise<number[]>,
  ): Promise<IdempotencyBegin> {
    const ids = await allocate();
    const inserted = await this.pool.query(
      `INSERT INTO idempotency_keys (server_id, key, request_sha256, message_ids) VALUES ($1, $2, $3, $4)
       ON CONFLICT (server_id, key) DO NOTHING RETURNING 1`,
      [serverId, key, requestSha256, ids],
    );
    if (inserted.rowCount === 1) return { kind: 'new', messageIds: ids };
    const { rows } = await this.pool.query(
      `SELECT request_sha256, message_ids, status_code, response, completed_at, extract(epoch FROM now() - created_at) * 1000 AS age_ms
         FROM idempotency_keys WHERE server_id = $1 AND key = $2`,
      [serverId, key],
    );
    const row = rows[0];
    if (!row) return this.begin(serverId, key, requestSha256, allocate); // removed meanwhile: start over
    if (row.request_sha256 !== requestSha256) return { kind: 'mismatch' };
    if (row.completed_at) return { kind: 'replay', statusCode: row.status_code, response: row.response };
    if (Number(row.age_ms) < this.staleAfterMs) return { kind: 'in_progress' };
    return { kind: 'resume', messageIds: row.message_ids.map(Number) };
  }

  async complete(serverId: string, key: string, statusCode: number, response: unknown): Promise<void> {
    await this.pool.query(
      'UPDATE idempotency_keys SET status_code = $3, response = $4, completed_at = now() WHERE server_id = $1 AND key = $2',
      [serverId, key, statusCode, JSON.stringify(response)],
    );
  }

  /** Forget a key whose request was refused before anything was appended. */
  async release(serverId: string, key: string): Promise<void> {
    await this.pool.query('DELETE FROM idempotency_keys WHERE server_id = $1 AND key = $2 AND completed_at IS NULL', [
      serverId,
      key,
    ]);
  }
}
