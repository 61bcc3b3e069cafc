import type { Resolver } from 'node:dns/promises';
import type { Domain, RecordLookup, TrackDomain } from '../../domain/index.js';

export type RecordCheck = RecordLookup;

/**
 * Look-up errors that mean the resolver itself gave no answer (nothing listens, or nothing came back in time),
 * not that the record is absent: NXDOMAIN, NODATA and a SERVFAIL of the domain's own servers are answers.
 */
const RESOLVER_SILENT = new Set(['ECONNREFUSED', 'ETIMEOUT', 'ECANCELLED']);

/** Looks up each published record the domain needs and says which are in place. */
export async function checkDnsRecords(resolver: Resolver, domain: Domain): Promise<RecordCheck[]> {
  return (await lookUpDnsRecords(resolver, domain)).checks;
}

/**
 * checkDnsRecords, and the look-ups the resolver did not answer (`unanswered`, with the error): a record
 * not found then is unknown rather than missing, which a periodic check must not report as a change.
 */
export async function lookUpDnsRecords(
  resolver: Resolver,
  domain: Domain,
): Promise<{ checks: RecordCheck[]; unanswered: { name: string; error: string }[] }> {
  const checks: RecordCheck[] = [];
  const unanswered: { name: string; error: string }[] = [];
  for (const record of domain.dnsRecords) {
    let found: string[] = [];
    try {
      found =
        record.type === 'TXT'
          ? (await resolver.resolveTxt(record.name)).map((parts) => parts.join(''))
          : await resolver.resolveCname(record.name);
    } catch (err) {
      found = [];
      const code = (err as NodeJS.ErrnoException).code;
      if (code && RESOLVER_SILENT.has(code)) unanswered.push({ name: record.name, error: code });
    }
    const normalize = (s: string) => s.replace(/\s+/g, '').replace(/\.$/, '').toLowerCase();
    const ok =
      record.purpose === 'spf'
        ? found.some(
            (f) =>
              normalize(f).startsWith('v=spf1') &&
              normalize(f).includes(normalize(record.value.split(' ').find((p) => p.startsWith('include:')) ?? '')),
          )
        : record.purpose === 'dmarc'
          ? found.some((f) => normalize(f).startsWith('v=dmarc1'))
          : found.some((f) => normalize(f) === normalize(record.value));
    checks.push({ purpose: record.purpose, name: record.name, expected: record.value, found, ok });
  }
  return { checks, unanswered };
}

/**
 * The CNAME of a track domain: found when the name's one CNAME is the tracking host (as Postal
 * checks it). Anything else there (an A record, another target) is not ours to send links to.
 */
export async function checkTrackDomainCname(resolver: Resolver, trackDomain: TrackDomain): Promise<RecordCheck> {
  const { name, value } = trackDomain.dnsRecord;
  let found: string[] = [];
  try {
    found = await resolver.resolveCname(name);
  } catch {
    found = [];
  }
  const normalize = (s: string) => s.replace(/\.$/, '').toLowerCase();
  const ok = found.length === 1 && normalize(found[0]!) === normalize(value);
  return { purpose: 'track-domain', name, expected: value, found, ok };
}
