import type pg from 'pg';
import type { DmarcReportReceived, DmarcReportRefused } from '../../domain/index.js';

export const DMARC_REPORTS = 'dmarc_reports';
export const DMARC_REPORT_RECORDS = 'dmarc_report_records';
export const DMARC_REFUSED_REPORTS = 'dmarc_refused_reports';

export interface DmarcTables {
  reports: string;
  records: string;
  refused: string;
}

/** A report and its records (a report seen again, on a replay, changes nothing). */
export async function insertDmarcReport(
  client: pg.ClientBase,
  t: DmarcTables,
  streamId: string,
  r: DmarcReportReceived,
): Promise<void> {
  const inserted = await client.query(
    `INSERT INTO ${t.reports} (stream_id, server_id, domain, reporter_org, reporter_email, report_id, date_begin,
                               date_end, policy, content_hash, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (stream_id) DO NOTHING`,
    [
      streamId,
      r.serverId,
      r.domain.toLowerCase(),
      r.reporterOrg,
      r.reporterEmail,
      r.reportId,
      r.begin,
      r.end,
      JSON.stringify(r.policy),
      r.contentHash,
      r.at,
    ],
  );
  if (inserted.rowCount === 0 || r.records.length === 0) return;
  await client.query(
    `INSERT INTO ${t.records} (stream_id, n, source_ip, message_count, disposition, dkim_aligned, spf_aligned,
                               header_from)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::bigint[], $5::text[], $6::boolean[], $7::boolean[],
                                $8::text[])`,
    [
      streamId,
      r.records.map((_, i) => i),
      r.records.map((x) => x.sourceIp),
      r.records.map((x) => x.count),
      r.records.map((x) => x.disposition),
      r.records.map((x) => x.dkim === 'pass'),
      r.records.map((x) => x.spf === 'pass'),
      r.records.map((x) => x.headerFrom),
    ],
  );
}

export async function insertRefusedDmarcReport(
  client: pg.ClientBase,
  t: DmarcTables,
  r: DmarcReportRefused,
): Promise<void> {
  await client.query(
    `INSERT INTO ${t.refused} (content_hash, server_id, domain, reason, message, mail_from, subject, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (content_hash) DO NOTHING`,
    [r.contentHash, r.serverId ?? null, r.domain ?? null, r.reason, r.message, r.mailFrom, r.subject, r.at],
  );
}

export async function emptyDmarcReports(client: pg.ClientBase, t: DmarcTables): Promise<void> {
  await client.query(`TRUNCATE ${t.reports}, ${t.records}, ${t.refused}`);
}

/** Which reports a query reads: a domain's, of the servers given (null: every server), begun in [from, to). */
export interface DmarcSelection {
  serverIds: string[] | null;
  domain: string;
  from: string;
  to: string;
}

/** Messages a set of records covers, and how many passed DKIM aligned, SPF aligned, and DMARC (either). */
export interface DmarcCounts {
  messages: number;
  dkimAligned: number;
  spfAligned: number;
  dmarcPass: number;
}

export interface DmarcSummary extends DmarcCounts {
  reports: number;
  reporters: ({ org: string; reports: number } & DmarcCounts)[];
  /** Mails to the report address for the domain that could not be read (kept, with a reason). */
  refused: number;
}

export interface DmarcSource extends DmarcCounts {
  ip: string;
  reporter: string;
  /** Messages the reporter quarantined or rejected. */
  quarantined: number;
  rejected: number;
}

const COUNTS = `
  coalesce(sum(c.message_count), 0)::bigint AS messages,
  coalesce(sum(c.message_count) FILTER (WHERE c.dkim_aligned), 0)::bigint AS dkim_aligned,
  coalesce(sum(c.message_count) FILTER (WHERE c.spf_aligned), 0)::bigint AS spf_aligned,
  coalesce(sum(c.message_count) FILTER (WHERE c.dkim_aligned OR c.spf_aligned), 0)::bigint AS dmarc_pass`;

const countsOf = (r: Record<string, string | number>): DmarcCounts => ({
  messages: Number(r.messages),
  dkimAligned: Number(r.dkim_aligned),
  spfAligned: Number(r.spf_aligned),
  dmarcPass: Number(r.dmarc_pass),
});

const WHERE = `r.domain = $1 AND r.date_begin >= $2 AND r.date_begin < $3 AND ($4::text[] IS NULL OR r.server_id = ANY($4))`;
const params = (s: DmarcSelection) => [s.domain.toLowerCase(), s.from, s.to, s.serverIds];

export async function dmarcSummaryOf(pool: pg.Pool, s: DmarcSelection): Promise<DmarcSummary> {
  const [all, perReporter, refused] = await Promise.all([
    pool.query(
      `SELECT count(DISTINCT r.stream_id)::int AS reports, ${COUNTS}
         FROM dmarc_reports r LEFT JOIN dmarc_report_records c USING (stream_id) WHERE ${WHERE}`,
      params(s),
    ),
    pool.query(
      `SELECT r.reporter_org AS org, count(DISTINCT r.stream_id)::int AS reports, ${COUNTS}
         FROM dmarc_reports r LEFT JOIN dmarc_report_records c USING (stream_id) WHERE ${WHERE}
        GROUP BY r.reporter_org ORDER BY messages DESC, org`,
      params(s),
    ),
    pool.query(
      `SELECT count(*)::int AS n FROM dmarc_refused_reports r
        WHERE r.domain = $1 AND r.received_at >= $2 AND r.received_at < $3
          AND ($4::text[] IS NULL OR r.server_id = ANY($4))`,
      params(s),
    ),
  ]);
  return {
    reports: all.rows[0].reports,
    ...countsOf(all.rows[0]),
    reporters: perReporter.rows.map((r) => ({ org: r.org, reports: r.reports, ...countsOf(r) })),
    refused: refused.rows[0].n,
  };
}

/** Per source IP and reporter, the most messages first; `failing`: only sources some of whose mail failed DMARC. */
export async function dmarcSourcesOf(
  pool: pg.Pool,
  s: DmarcSelection,
  options: { failing: boolean; limit: number },
): Promise<DmarcSource[]> {
  const { rows } = await pool.query(
    `SELECT c.source_ip AS ip, r.reporter_org AS reporter, ${COUNTS},
            coalesce(sum(c.message_count) FILTER (WHERE c.disposition = 'quarantine'), 0)::bigint AS quarantined,
            coalesce(sum(c.message_count) FILTER (WHERE c.disposition = 'reject'), 0)::bigint AS rejected
       FROM dmarc_reports r JOIN dmarc_report_records c USING (stream_id) WHERE ${WHERE}
      GROUP BY c.source_ip, r.reporter_org
     HAVING NOT $5 OR bool_or(NOT (c.dkim_aligned OR c.spf_aligned))
      ORDER BY messages DESC, ip, reporter LIMIT $6`,
    [...params(s), options.failing, options.limit],
  );
  return rows.map((r) => ({
    ip: r.ip,
    reporter: r.reporter,
    ...countsOf(r),
    quarantined: Number(r.quarantined),
    rejected: Number(r.rejected),
  }));
}
