/**
 * TLS-RPT (RFC 8460) reports that Postlog sends: where a policy domain wants them (its
 * `_smtp._tls` TXT record), the JSON aggregate report of one UTC day, and the mail that carries
 * it to a `mailto:` address. Pure: the gzip and the sending are done by the caller.
 */
import { rfc5322Date } from '../values/mail-date.js';
import { parseStsPolicy } from './mta-sts.js';

/** One day's counts of one policy of a policy domain (the rows of the TLS-RPT projection). */
export interface TlsReportPolicyCounts {
  policyType: 'sts' | 'tlsa' | 'no-policy-found';
  policyId: string;
  mode: string;
  successes: number;
  failures: number;
  failureTypes: Record<string, number>;
  /** The MTA-STS policy file counted (`sts`), when it is still kept under the counted id. */
  policyText?: string;
}

/**
 * The `rua` URIs of a domain's `_smtp._tls` TXT answer (RFC 8460 §3): exactly one record that
 * starts with `v=TLSRPTv1` (none or several: no reports), `rua=` a comma-separated list, of which
 * only `mailto:` and `https:` are kept (the schemes the RFC defines).
 */
export function parseTlsRptRecord(records: string[]): string[] {
  const ours = records.filter((r) => /^v=TLSRPTv1\s*(;|$)/.test(r.trim()));
  if (ours.length !== 1) return [];
  for (const field of ours[0]!.split(';')) {
    const eq = field.indexOf('=');
    if (eq < 0 || field.slice(0, eq).trim().toLowerCase() !== 'rua') continue;
    return field
      .slice(eq + 1)
      .split(',')
      .map((uri) => uri.trim())
      .filter((uri) => /^mailto:[^@\s]+@[^@\s]+$/i.test(uri) || /^https:\/\/\S+$/i.test(uri));
  }
  return [];
}

/** The report's id: one per policy domain and day from this host, so a report sent again has the same id. */
export function tlsReportId(policyDomain: string, day: string, hostname: string): string {
  return `${day}T00:00:00Z_${policyDomain}@${hostname}`;
}

export interface TlsReportInput {
  policyDomain: string;
  /** YYYY-MM-DD, the UTC day reported. */
  day: string;
  organizationName: string;
  contactInfo: string;
  reportId: string;
  counts: TlsReportPolicyCounts[];
}

/**
 * The aggregate report (RFC 8460 §4): one entry per policy that applied to the domain that day,
 * with its summary and the failures by result type. Postlog counts sessions per result type only
 * (not per MX or IP), so a failure detail carries `result-type` and `failed-session-count`. An
 * MTA-STS policy whose text is known gets `policy-string` (the file's lines) and `mx-host` (its mx
 * patterns); DANE's TLSA records are not kept, so a `tlsa` policy has neither.
 */
export function tlsReport(r: TlsReportInput) {
  return {
    'organization-name': r.organizationName,
    'date-range': { 'start-datetime': `${r.day}T00:00:00Z`, 'end-datetime': `${r.day}T23:59:59Z` },
    'contact-info': r.contactInfo,
    'report-id': r.reportId,
    policies: r.counts.map((c) => ({
      policy: { 'policy-type': c.policyType, ...stsPolicyFields(c), 'policy-domain': r.policyDomain },
      summary: { 'total-successful-session-count': c.successes, 'total-failure-session-count': c.failures },
      'failure-details': Object.entries(c.failureTypes)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([type, n]) => ({ 'result-type': type, 'failed-session-count': n })),
    })),
  };
}

export type TlsReport = ReturnType<typeof tlsReport>;

/**
 * `policy-string` and `mx-host` of an MTA-STS policy (RFC 8460 §4.4): the policy file's non-empty
 * lines, and the mx patterns of a file that parses (an unparsable one applied as no policy: no patterns).
 */
function stsPolicyFields(c: TlsReportPolicyCounts): { 'policy-string'?: string[]; 'mx-host'?: string[] } {
  if (c.policyType !== 'sts' || c.policyText === undefined) return {};
  const lines = c.policyText
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const parsed = parseStsPolicy(c.policyText);
  return { 'policy-string': lines, ...(parsed.ok ? { 'mx-host': parsed.value.mx } : {}) };
}

/** The gzipped report's file name (RFC 8460 §5.1): submitter!policy-domain!begin!end.json.gz, in Unix seconds. */
export function tlsReportFilename(submitter: string, policyDomain: string, day: string): string {
  const begin = Date.parse(`${day}T00:00:00Z`) / 1000;
  return `${submitter}!${policyDomain}!${begin}!${begin + 86_399}.json.gz`;
}

export interface TlsReportMailInput {
  from: string;
  to: string;
  /** Our host name: TLS-Report-Submitter. */
  submitter: string;
  policyDomain: string;
  day: string;
  reportId: string;
  /** The report, gzipped. */
  gzipped: Buffer;
  now: Date;
  messageId: string;
  boundary: string;
}

/** The subject RFC 8460 §5.3 prescribes. */
export function tlsReportSubject(policyDomain: string, submitter: string, reportId: string): string {
  return `Report Domain: ${policyDomain} Submitter: ${submitter} Report-ID: <${reportId}>`;
}

/**
 * The report as mail (RFC 8460 §5.3): multipart/report; report-type="tlsrpt", a short text part
 * and the gzipped JSON as application/tlsrpt+gzip in base64, with the TLS-Report-Domain and
 * TLS-Report-Submitter headers and the prescribed subject.
 */
export function tlsReportMail(m: TlsReportMailInput): Buffer {
  const base64 = m.gzipped.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const lines = [
    `From: ${m.from}`,
    `To: <${m.to}>`,
    `Subject: ${tlsReportSubject(m.policyDomain, m.submitter, m.reportId)}`,
    `Date: ${rfc5322Date(m.now)}`,
    `Message-ID: <${m.messageId}>`,
    `TLS-Report-Domain: ${m.policyDomain}`,
    `TLS-Report-Submitter: ${m.submitter}`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${m.boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${m.boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    `This is an aggregate TLS report (RFC 8460) from ${m.submitter} for ${m.policyDomain}, ${m.day} (UTC).`,
    '',
    `--${m.boundary}`,
    'Content-Type: application/tlsrpt+gzip',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${tlsReportFilename(m.submitter, m.policyDomain, m.day)}"`,
    '',
    `${base64}--${m.boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}
