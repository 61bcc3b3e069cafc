/**
 * DMARC aggregate reports received (docs/deliverability.md, "DMARC reports"): one row per report,
 * one per report record (source IP, count, aligned results), and the mails to the report address
 * that could not be read. A projection of the log (projections/dmarc-reports/): rebuilt from the
 * DmarcReportReceived and DmarcReportRefused events.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 44: the reports, their records and the refused mails. */
export const dmarcReportTables = `
      CREATE TABLE dmarc_reports (
        -- the report's stream: one per (reporter org, report id)
        stream_id      text PRIMARY KEY,
        server_id      text NOT NULL,
        domain         text NOT NULL CHECK (domain = lower(domain)),
        reporter_org   text NOT NULL,
        reporter_email text NOT NULL,
        report_id      text NOT NULL,
        date_begin     timestamptz NOT NULL,
        date_end       timestamptz NOT NULL,
        -- the policy the reporter found published (adkim, aspf, p, sp, pct)
        policy         jsonb NOT NULL,
        content_hash   text NOT NULL,
        received_at    timestamptz NOT NULL
      );
      CREATE INDEX dmarc_reports_domain_begin ON dmarc_reports (domain, date_begin);
      CREATE TABLE dmarc_report_records (
        stream_id     text NOT NULL,
        -- the record's place in its report
        n             integer NOT NULL,
        source_ip     text NOT NULL,
        message_count bigint NOT NULL,
        disposition   text NOT NULL,
        -- policy_evaluated: passed and aligned with the From domain
        dkim_aligned  boolean NOT NULL,
        spf_aligned   boolean NOT NULL,
        header_from   text NOT NULL,
        PRIMARY KEY (stream_id, n)
      );
      CREATE TABLE dmarc_refused_reports (
        content_hash text PRIMARY KEY,
        server_id    text,
        domain       text,
        reason       text NOT NULL,
        message      text NOT NULL,
        mail_from    text NOT NULL,
        subject      text NOT NULL,
        received_at  timestamptz NOT NULL
      );
`;
