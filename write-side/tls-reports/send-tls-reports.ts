import { randomUUID } from 'node:crypto';
import type { Resolver } from 'node:dns/promises';
import { gzipSync } from 'node:zlib';
import type pg from 'pg';
import {
  parseMailbox,
  parseRecipient,
  parseTlsRptRecord,
  tlsReport,
  tlsReportId,
  tlsReportMail,
  tlsReportSubject,
  type RecipientOptions,
  type TlsReport,
  type TlsReportPolicyCounts,
} from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import { isNoRecord, resolverLookup } from '../../infra/dns/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { StsPolicyStore } from '../../infra/mta-sts/index.js';
import {
  claimTlsReport,
  finishTlsReport,
  postTlsReport,
  tlsReportCountsOf,
  tlsReportDomainsOn,
  type TlsReportTarget,
} from '../../infra/tls-reports/index.js';
import { acceptMessages, type AcceptDeps } from '../send/accept-messages.js';

const TLS_REPORT_LOCK = 7_303_417_025;

export interface TlsReportDeps {
  pool: pg.Pool;
  resolver: Pick<Resolver, 'resolveTxt' | 'resolve4' | 'resolve6'>;
  /** The accept path: mailto reports are messages like any other (logged, DKIM-signed, delivered by the MTA). */
  send: AcceptDeps & { recipients: RecipientOptions };
  clock: Clock;
  logger: Logger;
  /** Our host name: TLS-Report-Submitter, and the report ids. */
  hostname: string;
  /** organization-name (POSTLOG_TLSRPT_ORGANIZATION, or the host name). */
  organization: string;
  /** The address mailto reports come from (POSTLOG_TLSRPT_FROM, or POSTLOG_ACCOUNT_MAIL_FROM); none: not sent. */
  from: string | undefined;
  /** CAs trusted for an https rua's certificate. */
  ca: string[];
}

export interface TlsReportOutcome {
  policyDomain: string;
  /** '' when the domain's `_smtp._tls` record could not be looked up. */
  rua: string;
  reportId: string;
  /** sent now; failed now (tried again by a later run); done before (sent, or claimed, earlier); skipped: cannot be sent. */
  status: 'sent' | 'failed' | 'done-before' | 'skipped';
  detail: string;
}

export interface TlsReportRun {
  /** False when another process was sending reports at that moment (nothing was done). */
  ran: boolean;
  day: string;
  /** The policy domains with counts that day. */
  domains: number;
  outcomes: TlsReportOutcome[];
  /** With dryRun: the reports, as they would be sent, per policy domain that asks for them. */
  reports: { policyDomain: string; rua: string[]; report: TlsReport }[];
}

/** Runs in a row that may find a policy domain's `_smtp._tls` record without an answer before its day is let go. */
export const TLS_REPORT_LOOKUP_TRIES = 3;

/**
 * Whether the daily run is done with its day after `run`: every report sent, done before or given up (a failed
 * send is tried by later runs, three times in all), and a domain whose record got no answer asked again by
 * later runs, TLS_REPORT_LOOKUP_TRIES in all (its DNS may be broken for good). `lookupRuns`: such runs before.
 */
export function tlsReportDaySettled(run: TlsReportRun, lookupRuns: number): { settled: boolean; lookupRuns: number } {
  const open = run.outcomes.filter((o) => o.status === 'failed' || o.status === 'skipped');
  const lookupsOnly = open.length > 0 && open.every(isLookupFailure);
  const runs = lookupsOnly ? lookupRuns + 1 : lookupRuns;
  const settled = run.ran && run.domains > 0 && (open.length === 0 || (lookupsOnly && runs >= TLS_REPORT_LOOKUP_TRIES));
  return { settled, lookupRuns: runs };
}

/** An outcome of a domain whose `_smtp._tls` look-up got no answer (no rua to send to yet). */
export const isLookupFailure = (o: TlsReportOutcome) => o.status === 'failed' && o.rua === '';

/** The UTC day before `now`, YYYY-MM-DD: the day the daily run reports. */
export function previousUtcDay(now: Date): string {
  return new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
}

/**
 * TLS-RPT daily reports (RFC 8460 §4, §5): for each policy domain with counts on `day`, its
 * `_smtp._tls` TXT record is looked up and the day's report is sent to each `rua` — `https:` as a
 * POST of application/tlsrpt+gzip, `mailto:` as a multipart/report message accepted for delivery
 * from the report address by the server that has its domain verified. Each (domain, day, rua) is
 * claimed (infra/tls-reports) before it goes out, so no restart or second process sends it twice;
 * a failed one is tried again by the next runs, up to three times in all. One process at a time
 * (a session advisory lock). dryRun: builds the reports, sends and records nothing.
 */
export async function runTlsReports(deps: TlsReportDeps, o: { day: string; dryRun?: boolean }): Promise<TlsReportRun> {
  const run: TlsReportRun = { ran: false, day: o.day, domains: 0, outcomes: [], reports: [] };
  const lockClient = await deps.pool.connect();
  let locked = false;
  let broken: Error | undefined;
  try {
    locked =
      (await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [TLS_REPORT_LOCK])).rows[0]
        ?.ok === true;
    if (!locked) return run;
    run.ran = true;
    const domains = await tlsReportDomainsOn(deps.pool, o.day);
    run.domains = domains.length;
    for (const policyDomain of domains) {
      const reportId = tlsReportId(policyDomain, o.day, deps.hostname);
      const name = `_smtp._tls.${policyDomain}`;
      let records: string[];
      try {
        records = (await deps.resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
      } catch (err) {
        if (!isNoRecord(err)) {
          // no answer (a timeout, SERVFAIL) is not "no reports wanted": the day is looked at again
          const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          const detail = `the look-up of ${name} failed (${code}); the next run asks again`;
          deps.logger.warn({ policyDomain, day: o.day, detail }, 'TLS report not sent');
          run.outcomes.push({ policyDomain, rua: '', reportId, status: 'failed', detail });
          continue;
        }
        records = [];
      }
      const rua = parseTlsRptRecord(records);
      if (rua.length === 0) continue;
      const report = tlsReport({
        policyDomain,
        day: o.day,
        organizationName: deps.organization,
        contactInfo: deps.from ?? `postmaster@${deps.hostname}`,
        reportId,
        counts: await withStsPolicyText(
          deps.pool,
          policyDomain,
          await tlsReportCountsOf(deps.pool, policyDomain, o.day),
        ),
      });
      if (o.dryRun) {
        run.reports.push({ policyDomain, rua, report });
        continue;
      }
      const gzipped = gzipSync(JSON.stringify(report));
      for (const uri of rua)
        run.outcomes.push(await sendOne(deps, { policyDomain, day: o.day, rua: uri }, reportId, gzipped));
    }
    return run;
  } finally {
    if (locked)
      await lockClient.query('SELECT pg_advisory_unlock($1)', [TLS_REPORT_LOCK]).catch((err: Error) => (broken = err));
    // a connection that could not unlock is closed: that ends its session and the lock with it
    lockClient.release(broken);
  }
}

/**
 * The MTA-STS counts with the text of their policy, where the MTA still keeps the policy under the
 * counted id (a policy replaced since by a new id has lost its text: reported without it).
 */
async function withStsPolicyText(
  pool: pg.Pool,
  policyDomain: string,
  counts: TlsReportPolicyCounts[],
): Promise<TlsReportPolicyCounts[]> {
  if (!counts.some((c) => c.policyType === 'sts')) return counts;
  const kept = await new StsPolicyStore(pool).get(policyDomain);
  return counts.map((c) => (c.policyType === 'sts' && kept?.id === c.policyId ? { ...c, policyText: kept.text } : c));
}

async function sendOne(
  deps: TlsReportDeps,
  target: TlsReportTarget,
  reportId: string,
  gzipped: Buffer,
): Promise<TlsReportOutcome> {
  const outcome = (status: TlsReportOutcome['status'], detail: string): TlsReportOutcome => ({
    policyDomain: target.policyDomain,
    rua: target.rua,
    reportId,
    status,
    detail,
  });
  const mailto = target.rua.toLowerCase().startsWith('mailto:');
  // without a sender there is nothing to claim: the report waits for the setting (within the retries' day)
  if (mailto && !deps.from)
    return outcome('skipped', 'no report address: set POSTLOG_TLSRPT_FROM (or POSTLOG_ACCOUNT_MAIL_FROM)');
  if (!(await claimTlsReport(deps.pool, target, reportId, deps.clock.now())))
    return outcome('done-before', 'sent or claimed by an earlier run');
  let result: { ok: boolean; detail: string };
  try {
    result = mailto ? await mailReport(deps, target, reportId, gzipped) : await postReport(deps, target.rua, gzipped);
  } catch (err) {
    result = { ok: false, detail: (err as Error).message };
  }
  await finishTlsReport(
    deps.pool,
    target,
    { status: result.ok ? 'sent' : 'failed', detail: result.detail },
    deps.clock.now(),
  );
  const log = { policyDomain: target.policyDomain, day: target.day, rua: target.rua, detail: result.detail };
  if (result.ok) deps.logger.info(log, 'TLS report sent');
  else deps.logger.warn(log, 'TLS report not sent');
  return outcome(result.ok ? 'sent' : 'failed', result.detail);
}

async function postReport(deps: TlsReportDeps, url: string, gzipped: Buffer) {
  const posted = await postTlsReport(url, gzipped, { ca: deps.ca, lookup: resolverLookup(deps.resolver) });
  return posted.ok ? { ok: true, detail: `HTTP ${posted.status}` } : { ok: false, detail: posted.detail };
}

async function mailReport(deps: TlsReportDeps, target: TlsReportTarget, reportId: string, gzipped: Buffer) {
  const sender = parseMailbox(deps.from!);
  if (!sender.ok) return { ok: false, detail: `the report address: ${sender.error}` };
  const server = await deps.send.tenancy.serverSendingFrom(sender.value.domain);
  if (!server) return { ok: false, detail: `no server has ${sender.value.domain} (of the report address) verified` };
  // mailto:a@b?subject=… : the address only, percent-decoded (RFC 6068)
  const to = parseRecipient(
    decodeURIComponent(target.rua.slice('mailto:'.length).split('?')[0]!),
    deps.send.recipients,
  );
  if (!to.ok) return { ok: false, detail: `${target.rua}: ${to.error}` };
  const messageId = `${randomUUID()}@${deps.hostname}`;
  const raw = tlsReportMail({
    from: sender.value.address,
    to: to.value.address,
    submitter: deps.hostname,
    policyDomain: target.policyDomain,
    day: target.day,
    reportId,
    gzipped,
    now: deps.clock.now(),
    messageId,
    boundary: `tlsrpt-${randomUUID()}`,
  });
  const accepted = await acceptMessages(deps.send, {
    server,
    from: sender.value,
    contents: [raw],
    messages: [
      {
        to: to.value,
        content: 0,
        rfcMessageId: messageId,
        subject: tlsReportSubject(target.policyDomain, deps.hostname, reportId),
      },
    ],
    tag: 'postlog-tlsrpt',
    source: 'api',
    correlationId: `tlsrpt-${reportId}`,
    actor: 'postlog:tls-reports',
  });
  return accepted.ok
    ? { ok: true, detail: `message ${accepted.value.messages[0]!.id}` }
    : { ok: false, detail: `${accepted.error.code}: ${accepted.error.message}` };
}
