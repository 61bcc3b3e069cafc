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
