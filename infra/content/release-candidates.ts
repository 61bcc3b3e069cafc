import type pg from 'pg';

/**
 * The bodies content retention looks at again (write-side/retention/): a body becomes a release
 * candidate when something that used it is done with it (its message expired, its inbound route
 * delivery ended), and is deleted once due if nothing needs it any more (content-retention.ts).
 */

/**
 * Makes these bodies ('' ignored) candidates, due at `checkAfter`; a body that is one already is
 * due at the earlier of the two times.
 */
export async function addReleaseCandidates(pool: pg.Pool, hashes: string[], checkAfter: string): Promise<void> {
  await pool.query(
    `INSERT INTO content_release_candidates AS r (sha256, check_after)
           SELECT DISTINCT h, $2::timestamptz FROM unnest($1::text[]) AS h WHERE h <> ''
           ON CONFLICT (sha256) DO UPDATE SET check_after = least(r.check_after, excluded.check_after)`,
    [hashes, checkAfter],
  );
}

/**
 * SQL that makes candidates of the bodies `rows` selects, as (hash, check time) pairs; a body that
 * is one already is due at the later of the two times. A fragment, so that the statement that ends
 * a use of a body (infra/routes/route-store.ts, a route delivery that ended) makes it a candidate
 * in the same statement.
 */
export const laterReleaseCandidates = (rows: string): string =>
  `INSERT INTO content_release_candidates AS r (sha256, check_after)
         ${rows}
         ON CONFLICT (sha256) DO UPDATE SET check_after = greatest(r.check_after, excluded.check_after)`;

/** Up to `limit` candidates due at `now`, earliest first, locked (ones another run holds are skipped). */
export async function lockDueReleaseCandidates(client: pg.ClientBase, now: Date, limit: number): Promise<string[]> {
  const { rows } = await client.query<{ sha256: string }>(
    'SELECT sha256 FROM content_release_candidates WHERE check_after <= $1 ORDER BY check_after LIMIT $2 FOR UPDATE SKIP LOCKED',
    [now.toISOString(), limit],
  );
  return rows.map((r) => r.sha256);
}

/** Of these candidates, forgets those whose body is gone. */
export async function forgetDeletedCandidates(client: pg.ClientBase, hashes: string[]): Promise<void> {
  await client.query(
    'DELETE FROM content_release_candidates r WHERE r.sha256 = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM contents c WHERE c.sha256 = r.sha256)',
    [hashes],
  );
}

/** These candidates are looked at again a day after `now`. */
export async function postponeCandidates(client: pg.ClientBase, hashes: string[], now: Date): Promise<void> {
  await client.query(
    "UPDATE content_release_candidates SET check_after = $2::timestamptz + interval '1 day' WHERE sha256 = ANY($1::text[])",
    [hashes, now.toISOString()],
  );
}
