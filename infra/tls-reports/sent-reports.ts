import type pg from 'pg';

/** A report to a `rua` address: one per policy domain, day and address. */
export interface TlsReportTarget {
  policyDomain: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  rua: string;
}

export interface SentTlsReport extends TlsReportTarget {
  reportId: string;
  status: 'sending' | 'sent' | 'failed';
  attempts: number;
  detail: string;
}

/** A failed report is tried again by later runs, this many times in all (RFC 8460 §5.4 asks for retries). */
export const TLS_REPORT_MAX_ATTEMPTS = 3;

/**
 * Claims a report for sending: true when this caller is to send it now (never tried, or failed
 * fewer than TLS_REPORT_MAX_ATTEMPTS times). A claimed report stays claimed if the process dies
 * while sending: it is not sent again (at most once, as a report recipient would want).
 */
export async function claimTlsReport(
  pool: pg.Pool,
  target: TlsReportTarget,
  reportId: string,
  now: Date,
): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO tls_reports_sent AS s (policy_domain, day, rua, report_id, status, updated_at)
          VALUES ($1, $2, $3, $4, 'sending', $5)
     ON CONFLICT (policy_domain, day, rua) DO UPDATE SET status = 'sending', attempts = s.attempts + 1,
                 updated_at = EXCLUDED.updated_at
           WHERE s.status = 'failed' AND s.attempts < $6`,
    [target.policyDomain.toLowerCase(), target.day, target.rua, reportId, now, TLS_REPORT_MAX_ATTEMPTS],
  );
  return rowCount === 1;
}

/** Records how a claimed report went. */
export async function finishTlsReport(
  pool: pg.Pool,
  target: TlsReportTarget,
  outcome: { status: 'sent' | 'failed'; detail: string },
  now: Date,
): Promise<void> {
  await pool.query(
    `UPDATE tls_reports_sent SET status = $4, detail = $5, updated_at = $6
      WHERE policy_domain = $1 AND day = $2 AND rua = $3`,
    [target.policyDomain.toLowerCase(), target.day, target.rua, outcome.status, outcome.detail, now],
  );
}

/** The reports of a day, for the CLI and tests. */
export async function tlsReportsSentOn(pool: pg.Pool, day: string): Promise<SentTlsReport[]> {
  const { rows } = await pool.query(
    `SELECT policy_domain, to_char(day, 'YYYY-MM-DD') AS day, rua, report_id, status, attempts, detail
       FROM tls_reports_sent WHERE day = $1 ORDER BY policy_domain, rua`,
    [day],
  );
  return rows.map((r) => ({
    policyDomain: r.policy_domain,
    day: r.day,
    rua: r.rua,
    reportId: r.report_id,
    status: r.status,
    attempts: r.attempts,
    detail: r.detail,
  }));
}
