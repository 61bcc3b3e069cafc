import type pg from 'pg';

export const TLS_REPORT_COUNTS = 'tls_report_counts';

/** One day's counts of one policy of one domain. */
export interface TlsReportCount {
  policyDomain: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  policyType: 'sts' | 'tlsa' | 'no-policy-found';
  policyId: string;
  mode: string;
  successes: number;
  failures: number;
  failureTypes: Record<string, number>;
}

/** Adds a batch's counts to the rows (one statement; failure type counts are summed key by key). */
export async function addTlsReportCounts(client: pg.ClientBase, table: string, rows: TlsReportCount[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ${table} AS c (policy_domain, day, policy_type, policy_id, mode, successes, failures, failure_types)
       SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                            $8::jsonb[])
     ON CONFLICT (policy_domain, day, policy_type, policy_id, mode) DO UPDATE SET
       successes = c.successes + EXCLUDED.successes,
       failures = c.failures + EXCLUDED.failures,
       failure_types = (
         SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
           SELECT k, sum(v::bigint) AS v FROM (
             SELECT key AS k, value AS v FROM jsonb_each_text(c.failure_types)
             UNION ALL SELECT key, value FROM jsonb_each_text(EXCLUDED.failure_types)
           ) both_sides GROUP BY k
         ) summed
       )`,
    [
      rows.map((r) => r.policyDomain),
      rows.map((r) => r.day),
      rows.map((r) => r.policyType),
      rows.map((r) => r.policyId),
      rows.map((r) => r.mode),
      rows.map((r) => r.successes),
      rows.map((r) => r.failures),
      rows.map((r) => JSON.stringify(r.failureTypes)),
    ],
  );
}

export async function emptyTlsReportCounts(client: pg.ClientBase, table: string): Promise<void> {
  await client.query(`TRUNCATE ${table}`);
}

/** A domain's counts of one day (the body of its RFC 8460 report), policies in a stable order. */
export async function tlsReportCountsOf(pool: pg.Pool, policyDomain: string, day: string): Promise<TlsReportCount[]> {
  const { rows } = await pool.query(
    `SELECT policy_domain, to_char(day, 'YYYY-MM-DD') AS day, policy_type, policy_id, mode,
            successes, failures, failure_types
       FROM tls_report_counts WHERE policy_domain = $1 AND day = $2
      ORDER BY policy_type, policy_id, mode`,
    [policyDomain.toLowerCase(), day],
  );
  return rows.map((r) => ({
    policyDomain: r.policy_domain,
    day: r.day,
    policyType: r.policy_type,
    policyId: r.policy_id,
    mode: r.mode,
    successes: Number(r.successes),
    failures: Number(r.failures),
    failureTypes: Object.fromEntries(
      Object.entries(r.failure_types as Record<string, string | number>).map(([k, v]) => [k, Number(v)]),
    ),
  }));
}

/** The policy domains with counts on a day: the reports that day may have. */
export async function tlsReportDomainsOn(pool: pg.Pool, day: string): Promise<string[]> {
  const { rows } = await pool.query<{ policy_domain: string }>(
    'SELECT DISTINCT policy_domain FROM tls_report_counts WHERE day = $1 ORDER BY policy_domain',
    [day],
  );
  return rows.map((r) => r.policy_domain);
}
