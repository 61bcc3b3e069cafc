/**
 * TLS-RPT (RFC 8460) counts: per policy domain, day and policy, the delivery attempts whose TLS
 * succeeded or failed, and the failures by result type (tls-report-counts.ts). A projection of the
 * log (projections/tls-reports/): rebuilt from the attempt events.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 38: the daily TLS counts. */
export const tlsReportCountsTable = `
      CREATE TABLE tls_report_counts (
        policy_domain text NOT NULL CHECK (policy_domain = lower(policy_domain)),
        day           date NOT NULL,
        -- RFC 8460 §4.4 policy-type: sts, or no-policy-found
        policy_type   text NOT NULL CHECK (policy_type IN ('sts', 'no-policy-found')),
        -- the MTA-STS policy id ('' without one)
        policy_id     text NOT NULL DEFAULT '',
        mode          text NOT NULL DEFAULT '',
        successes     bigint NOT NULL DEFAULT 0,
        failures      bigint NOT NULL DEFAULT 0,
        -- result type → count, e.g. {"certificate-not-trusted": 3}
        failure_types jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (policy_domain, day, policy_type, policy_id, mode)
      );
`;

/** Migration 39: DANE's attempts are counted under RFC 8460's policy-type `tlsa`. */
export const tlsReportCountsTlsa = `
      ALTER TABLE tls_report_counts DROP CONSTRAINT tls_report_counts_policy_type_check;
      ALTER TABLE tls_report_counts ADD CONSTRAINT tls_report_counts_policy_type_check
        CHECK (policy_type IN ('sts', 'tlsa', 'no-policy-found'));
`;

/**
 * Migration 41: the TLS-RPT reports Postlog sent (or tried to), one row per policy domain, day and
 * `rua` address. The row is written before the report goes out: a restart never sends one twice.
 */
export const tlsReportsSentTable = `
      CREATE TABLE tls_reports_sent (
        policy_domain text NOT NULL CHECK (policy_domain = lower(policy_domain)),
        day           date NOT NULL,
        rua           text NOT NULL,
        report_id     text NOT NULL,
        -- sending: claimed (a crash leaves it so: at most once); sent; failed (tried again, up to 3 times)
        status        text NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
        attempts      integer NOT NULL DEFAULT 1,
        -- the mailto report's message id, or the https answer; the failure's reason
        detail        text NOT NULL DEFAULT '',
        updated_at    timestamptz NOT NULL,
        PRIMARY KEY (policy_domain, day, rua)
      );
`;
