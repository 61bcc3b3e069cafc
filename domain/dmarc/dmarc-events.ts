import { z } from 'zod';
import { createEventCodec, type EventUnion } from '../events/codec.js';

/**
 * DMARC aggregate reports (RFC 7489 §7.2, appendix C) that mailbox providers send to the `rua`
 * address of a domain we send for: who sent mail claiming the domain, from which IPs, and whether
 * SPF and DKIM passed aligned. Each report is an event in a stream of its own, named by reporter
 * and report id, so the same report mailed twice is recorded once.
 */

const Timestamp = z.iso.datetime({ offset: true });

/** RFC 7489 appendix C DispositionType, and its DMARCResultType (pass or fail, aligned). */
export const DmarcDisposition = z.enum(['none', 'quarantine', 'reject']);
export const DmarcResult = z.enum(['pass', 'fail']);

/** The domain's policy as the reporter found it published. */
export const DmarcPolicyPublished = z.object({
  domain: z.string().min(1).max(253),
  adkim: z.enum(['r', 's']).optional(),
  aspf: z.enum(['r', 's']).optional(),
  p: DmarcDisposition,
  sp: DmarcDisposition.optional(),
  pct: z.number().int().min(0).max(100).optional(),
});
export type DmarcPolicyPublished = z.infer<typeof DmarcPolicyPublished>;

/** A raw SPF or DKIM result the reporter found, before alignment (auth_results). */
export const DmarcAuthResult = z.object({
  domain: z.string().max(253),
  /** DKIM selector, or SPF scope (mfrom, helo). */
  selectorOrScope: z.string().max(253).optional(),
  result: z.string().max(20),
});

/** One row of a report: mail from one source IP with one outcome, `count` messages. */
export const DmarcRecord = z.object({
  sourceIp: z.union([z.ipv4(), z.ipv6()]),
  count: z.number().int().min(0),
  disposition: DmarcDisposition,
  /** policy_evaluated: DKIM and SPF as DMARC saw them, i.e. passed *and* aligned with the From domain. */
  dkim: DmarcResult,
  spf: DmarcResult,
  headerFrom: z.string().max(253),
  dkimResults: z.array(DmarcAuthResult).max(20),
  spfResults: z.array(DmarcAuthResult).max(20),
});
export type DmarcRecord = z.infer<typeof DmarcRecord>;

/** At most this many rows in one report (a large provider's daily report has a few hundred). */
export const MAX_DMARC_RECORDS = 10_000;

export const DmarcReportReceived = z.object({
  /** The server that sends for the policy domain when the report arrived. */
  serverId: z.string().min(1),
  domain: z.string().min(1).max(253),
  reporterOrg: z.string().min(1).max(500),
  reporterEmail: z.string().max(500),
  reportId: z.string().min(1).max(500),
  /** The period the report covers. */
  begin: Timestamp,
  end: Timestamp,
  policy: DmarcPolicyPublished,
  records: z.array(DmarcRecord).max(MAX_DMARC_RECORDS),
  /** sha256 of the mail in the content store. */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  at: Timestamp,
});
export type DmarcReportReceived = z.infer<typeof DmarcReportReceived>;

/** Why a mail to the report address is not a report we can read. */
export const DmarcRefusalReason = z.enum([
  'no-report',
  'too-large',
  'bad-archive',
  'bad-xml',
  'entities-refused',
  'invalid-report',
  'unknown-domain',
]);
export type DmarcRefusalReason = z.infer<typeof DmarcRefusalReason>;

/**
 * Mail to the report address that is not a report we can read (a zip bomb, XML with a DTD, no
 * attachment, a domain we do not send for): kept, not lost, with the reason; the mail is in the
 * content store.
 */
export const DmarcReportRefused = z.object({
  serverId: z.string().min(1).optional(),
  domain: z.string().max(253).optional(),
  reason: DmarcRefusalReason,
  message: z.string().max(1000),
  mailFrom: z.string().max(500),
  subject: z.string().max(998),
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  at: Timestamp,
});
export type DmarcReportRefused = z.infer<typeof DmarcReportRefused>;

export const dmarcEventCodec = createEventCodec({
  DmarcReportReceived: { schema: DmarcReportReceived, schemaVersion: 1 },
  DmarcReportRefused: { schema: DmarcReportRefused, schemaVersion: 1 },
});
export type DmarcEvent = EventUnion<typeof dmarcEventCodec.definitions>;

/** One stream per report: `dmarc-report-` and a digest of (reporter org, report id) (stream-ids.ts). */
export const DMARC_REPORT_STREAM_PREFIX = 'dmarc-report-';
/** One stream per refused mail: `dmarc-refused-` and the mail's content hash. */
export const DMARC_REFUSED_STREAM_PREFIX = 'dmarc-refused-';
