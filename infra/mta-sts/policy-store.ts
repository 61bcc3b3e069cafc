import type pg from 'pg';

/** A fetched MTA-STS policy as kept: the text the policy server served, for its TXT id, until max_age ends. */
export interface StoredStsPolicy {
  domain: string;
  id: string;
  text: string;
  fetchedAt: Date;
  expiresAt: Date;
}

/** At most this many policies are read at start (the most recently fetched): the cache is bounded. */
export const STORED_POLICIES_READ = 10_000;

/**
 * The MTA-STS policy cache in PostgreSQL (RFC 8461 §5.1): a policy fetched before a restart still
 * applies after it, also when the policy server cannot be reached then. One row per domain; expired
 * ones are deleted as new ones are saved.
 */
export class StsPolicyStore {
  constructor(private readonly pool: pg.Pool) {}

  /** The policies not expired at `now`, the most recently fetched first, at most `limit`. */
  async load(now: Date, limit = STORED_POLICIES_READ): Promise<StoredStsPolicy[]> {
    const { rows } = await this.pool.query(
      `SELECT domain, policy_id, policy_text, fetched_at, expires_at FROM mta_sts_policies
        WHERE expires_at > $1 ORDER BY fetched_at DESC LIMIT $2`,
      [now, limit],
    );
    return rows.map(storedPolicy);
  }

  /** The policy kept for a domain, expired or not (until a save replaces or deletes it). */
  async get(domain: string): Promise<StoredStsPolicy | undefined> {
    const { rows } = await this.pool.query(
      'SELECT domain, policy_id, policy_text, fetched_at, expires_at FROM mta_sts_policies WHERE domain = $1',
      [domain.toLowerCase()],
    );
    return rows[0] && storedPolicy(rows[0]);
  }

  async save(p: StoredStsPolicy): Promise<void> {
    await this.pool.query(
      `WITH gone AS (DELETE FROM mta_sts_policies WHERE expires_at <= $4)
       INSERT INTO mta_sts_policies (domain, policy_id, policy_text, fetched_at, expires_at)
            VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (domain) DO UPDATE SET policy_id = EXCLUDED.policy_id, policy_text = EXCLUDED.policy_text,
                   fetched_at = EXCLUDED.fetched_at, expires_at = EXCLUDED.expires_at`,
      [p.domain.toLowerCase(), p.id, p.text, p.fetchedAt, p.expiresAt],
    );
  }
}

const storedPolicy = (r: {
  domain: string;
  policy_id: string;
  policy_text: string;
  fetched_at: Date;
  expires_at: Date;
}): StoredStsPolicy => ({
  domain: r.domain,
  id: r.policy_id,
  text: r.policy_text,
  fetchedAt: r.fetched_at,
  expiresAt: r.expires_at,
});
