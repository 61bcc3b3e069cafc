import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { err, ok, type Result } from '../result.js';
import {
  DmarcDisposition,
  DmarcPolicyPublished,
  DmarcRecord,
  MAX_DMARC_RECORDS,
  type DmarcRefusalReason,
} from './dmarc-events.js';

/** A report as read from its XML: what DmarcReportReceived records, less where it came from. */
export interface ParsedDmarcReport {
  reporterOrg: string;
  reporterEmail: string;
  reportId: string;
  begin: string;
  end: string;
  policy: DmarcPolicyPublished;
  records: DmarcRecord[];
}

export type DmarcParseError = { reason: DmarcRefusalReason; message: string };

const trimmed = z.string().trim();
const lower = trimmed.toLowerCase();
/** An absent or empty element is undefined (reporters write <sp></sp> for "not published"). */
const optionalLower = <const V extends readonly [string, ...string[]]>(values: V) =>
  lower
    .optional()
    .transform((s) => (s === '' ? undefined : s))
    .pipe(z.enum(values).optional());
const epoch = trimmed
  .regex(/^\d{1,12}$/, 'seconds since 1970')
  .transform((s) => new Date(Number(s) * 1000).toISOString());
const count = trimmed.regex(/^\d{1,12}$/, 'a count').transform(Number);
/** policy_evaluated's DKIM and SPF: anything but pass (some reporters write none or softfail) fails DMARC. */
const aligned = lower.transform((s) => (s === 'pass' ? ('pass' as const) : ('fail' as const)));
const list = <T extends z.ZodType>(item: T, max: number) =>
  z.preprocess((v) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]), z.array(item).max(max));

const AuthResult = (detail: 'selector' | 'scope') =>
  z.object({ domain: lower.default(''), [detail]: trimmed.optional(), result: lower.default('') }).transform((r) => ({
    domain: r.domain as string,
    ...(r[detail] ? { selectorOrScope: r[detail] as string } : {}),
    result: r.result as string,
  }));

const XmlRecord = z
  .object({
    row: z.object({
      source_ip: trimmed,
      count,
      policy_evaluated: z.object({ disposition: lower.pipe(DmarcDisposition), dkim: aligned, spf: aligned }),
    }),
    identifiers: z.object({ header_from: lower.default('') }).default({ header_from: '' }),
    auth_results: z
      .preprocess(
        (v) => (v === '' ? {} : v),
        z.object({ dkim: list(AuthResult('selector'), 20), spf: list(AuthResult('scope'), 20) }),
      )
      .default({ dkim: [], spf: [] }),
  })
  .transform((r) => ({
    sourceIp: r.row.source_ip,
    count: r.row.count,
    disposition: r.row.policy_evaluated.disposition,
    dkim: r.row.policy_evaluated.dkim,
    spf: r.row.policy_evaluated.spf,
    headerFrom: r.identifiers.header_from,
    dkimResults: r.auth_results.dkim,
    spfResults: r.auth_results.spf,
  }))
  .pipe(DmarcRecord);

/** RFC 7489 appendix C, the parts we keep; anything else a reporter adds is ignored. */
const XmlFeedback = z.object({
  report_metadata: z.object({
    org_name: trimmed.min(1).max(500),
    email: trimmed.max(500).default(''),
    report_id: trimmed.min(1).max(500),
    date_range: z.object({ begin: epoch, end: epoch }),
  }),
  policy_published: z.object({
    domain: lower.min(1).max(253),
    adkim: optionalLower(['r', 's']),
    aspf: optionalLower(['r', 's']),
    p: lower.pipe(DmarcDisposition),
    sp: optionalLower(['none', 'quarantine', 'reject']),
    pct: trimmed
      .optional()
      .transform((s) => (s ? Number(s) : undefined))
      .pipe(z.number().int().min(0).max(100).optional()),
  }),
  record: list(XmlRecord, MAX_DMARC_RECORDS),
});

/**
 * Every value stays text (report ids and IPs are not numbers); namespaces are dropped (DMARCbis
 * reports have one). Entities: only XML's five predefined ones are read, as a DTD is refused before.
 */
const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

/**
 * A DMARC aggregate report's XML, read. A document type declaration is refused outright: it is
 * how entity expansion (billion laughs) and external entities get in, and no report needs one.
 */
export function parseDmarcReportXml(xml: string): Result<ParsedDmarcReport, DmarcParseError> {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    return err({ reason: 'entities-refused', message: 'the XML declares a document type or entities (refused)' });
  let doc: unknown;
  try {
    doc = parser.parse(xml, true);
  } catch (e) {
    return err({ reason: 'bad-xml', message: `the XML cannot be read: ${(e as Error).message}`.slice(0, 1000) });
  }
  const feedback = (doc as { feedback?: unknown } | undefined)?.feedback;
  if (!feedback || typeof feedback !== 'object')
    return err({ reason: 'invalid-report', message: 'no <feedback> element: not a DMARC aggregate report' });
  const parsed = XmlFeedback.safeParse(feedback);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    return err({ reason: 'invalid-report', message: `not a valid DMARC aggregate report: ${issues}`.slice(0, 1000) });
  }
  const f = parsed.data;
  const policy = DmarcPolicyPublished.parse(
    Object.fromEntries(Object.entries(f.policy_published).filter(([, v]) => v !== undefined)),
  );
  return ok({
    reporterOrg: f.report_metadata.org_name,
    reporterEmail: f.report_metadata.email,
    reportId: f.report_metadata.report_id,
    begin: f.report_metadata.date_range.begin,
    end: f.report_metadata.date_range.end,
    policy,
    records: f.record,
  });
}
