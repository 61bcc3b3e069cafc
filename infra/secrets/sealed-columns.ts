import type pg from 'pg';
import { err, ok, type Result } from '../../domain/index.js';
import type { Logger } from '../logging/index.js';
import { quoteIdent } from '../postgres/identifiers.js';
import type { SecretBox, SecretBoxError } from './secret-box.js';

/**
 * A column of sealed secrets, declared by the module that owns its table (its statements stay
 * there; this folder only seals, re-seals and counts by the declaration). Values are bound to
 * their row: `context(id)` is the box's context, so a value copied to another row does not open.
 */
export interface SealedColumn {
  /** What the secrets are, for reports ("DKIM private keys"). */
  what: string;
  table: string;
  /** The row's key column. */
  id: string;
  sealed: string;
  /** Where the secret was kept in plaintext before it was sealed: emptied (NULL) once sealed. */
  plaintext?: string;
  context: (id: string) => string;
}

/**
 * A secret of a row as it is stored: a plaintext value (written before sealing, or by an older
 * Postlog during an upgrade; sealed at the next start) is the current one, else the sealed one.
 */
export function openSealed(
  box: SecretBox,
  stored: { sealed: string | null | undefined; plaintext?: string | null | undefined },
  context: string,
): Result<string | null, SecretBoxError> {
  if (stored.plaintext !== null && stored.plaintext !== undefined) return ok(stored.plaintext);
  if (stored.sealed === null || stored.sealed === undefined) return ok(null);
  const opened = box.open(stored.sealed, context);
  return opened.ok ? opened : err(opened.error);
}

const BATCH = 100;

/**
 * Seals the plaintext secrets left from before a column was sealed, in small transactions (rows
 * locked with SKIP LOCKED: processes starting together share the work), and empties the plaintext.
 * Idempotent: nothing to do once every plaintext is NULL. Returns how many it sealed.
 */
export async function sealPlaintextSecrets(pool: pg.Pool, box: SecretBox, columns: SealedColumn[]): Promise<number> {
  let sealed = 0;
  for (const c of columns) {
    if (!c.plaintext) continue;
    const [t, id, col, plain] = [c.table, c.id, c.sealed, c.plaintext].map(quoteIdent);
    for (;;) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ id: string; plaintext: string }>(
          `SELECT ${id}::text AS id, ${plain} AS plaintext FROM ${t} WHERE ${plain} IS NOT NULL
            LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        );
        for (const r of rows)
          await client.query(`UPDATE ${t} SET ${col} = $2, ${plain} = NULL WHERE ${id} = $1`, [
            r.id,
            box.seal(r.plaintext, c.context(r.id)),
          ]);
        await client.query('COMMIT');
        sealed += rows.length;
        if (rows.length < BATCH) break;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    }
  }
  return sealed;
}

export interface ResealReport {
  /** Values now sealed under the current key that were sealed under another. */
  resealed: number;
  /** Values that do not open with any configured key: left as they are. */
  unreadable: { what: string; id: string; code: SecretBoxError['code'] }[];
}

/**
 * Re-seals every value sealed under another key than the box's current one, in batches of
 * `batchSize` rows, each row updated on its own only if it still holds what was read (a value
 * changed meanwhile is left to the next pass): no long locks, writers and readers go on.
 */
export async function resealSecrets(
  pool: pg.Pool,
  box: SecretBox,
  columns: SealedColumn[],
  o: { batchSize?: number; onBatch?: (done: number) => void } = {},
): Promise<ResealReport> {
  const report: ResealReport = { resealed: 0, unreadable: [] };
  for (const c of columns) {
    const [t, id, col] = [c.table, c.id, c.sealed].map(quoteIdent);
    const skipped: string[] = [];
    for (;;) {
      const current = box.keyId;
      const { rows } = await pool.query<{ id: string; sealed: string }>(
        `SELECT ${id}::text AS id, ${col} AS sealed FROM ${t}
          WHERE ${col} IS NOT NULL AND split_part(${col}, '.', 2) <> $1 AND NOT (${id}::text = ANY($2::text[]))
          LIMIT $3`,
        [current, skipped, o.batchSize ?? BATCH],
      );
      if (rows.length === 0) break;
      for (const r of rows) {
        const opened = box.open(r.sealed, c.context(r.id));
        if (!opened.ok) {
          skipped.push(r.id);
          report.unreadable.push({ what: c.what, id: r.id, code: opened.error.code });
          continue;
        }
        const done = await pool.query(`UPDATE ${t} SET ${col} = $2 WHERE ${id} = $1 AND ${col} = $3`, [
          r.id,
          box.seal(opened.value, c.context(r.id)),
          r.sealed,
        ]);
        report.resealed += done.rowCount ?? 0;
      }
      o.onBatch?.(report.resealed);
    }
  }
  return report;
}

export interface SealedCount {
  what: string;
  /** The key that sealed them; null: values still in plaintext (sealed at the next start). */
  keyId: string | null;
  count: number;
}

/** How many values each key sealed, per kind of secret, and how many are still in plaintext. */
export async function sealedKeyCounts(pool: pg.Pool, columns: SealedColumn[]): Promise<SealedCount[]> {
  const counts: SealedCount[] = [];
  for (const c of columns) {
    const [t, col] = [c.table, c.sealed].map(quoteIdent);
    const { rows } = await pool.query<{ key_id: string; count: string }>(
      `SELECT split_part(${col}, '.', 2) AS key_id, count(*) AS count FROM ${t} WHERE ${col} IS NOT NULL
        GROUP BY 1 ORDER BY 1`,
    );
    for (const r of rows) counts.push({ what: c.what, keyId: r.key_id, count: Number(r.count) });
    if (c.plaintext) {
      const plain = quoteIdent(c.plaintext);
      const left = await pool.query<{ count: string }>(`SELECT count(*) AS count FROM ${t} WHERE ${plain} IS NOT NULL`);
      const count = Number(left.rows[0]?.count ?? 0);
      if (count > 0) counts.push({ what: c.what, keyId: null, count });
    }
  }
  return counts;
}

/**
 * The start-up step: seals what is still in plaintext, then says in the log, once, which stored
 * values no configured key opens (a wrong or lost key). They fail where they are read, with the
 * same message; the process runs on (no crash loop: restarting would not bring the key back).
 */
export async function prepareSealedSecrets(
  pool: pg.Pool,
  box: SecretBox,
  columns: SealedColumn[],
  logger: Logger,
): Promise<void> {
  const sealed = await sealPlaintextSecrets(pool, box, columns);
  if (sealed > 0) logger.info({ sealed }, 'sealed secrets stored in plaintext by an earlier version');
  const known = new Set(box.keyIds);
  const unknown = (await sealedKeyCounts(pool, columns)).filter((c) => c.keyId !== null && !known.has(c.keyId));
  for (const u of unknown)
    logger.error(
      { code: 'SECRETS_KEY_MISSING', what: u.what, keyId: u.keyId, count: u.count, configured: box.keyIds },
      `${u.count} ${u.what} are sealed with key ${u.keyId}, which is not configured: they cannot be read ` +
        "(restore the data dir's secrets.key or POSTLOG_SECRETS_KEY from the backup that goes with this database)",
    );
}
