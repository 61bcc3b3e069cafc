import type { Resolver } from 'node:dns/promises';
import type { Domain, RecordLookup, TrackDomain } from '../../domain/index.js';

export type RecordCheck = RecordLookup;

/** Looks up each published record the domain needs and says which are in place. */
export async function checkDnsRecords(resolver: Resolver, domain: Domain): Promise<RecordCheck[]> {
  const checks: RecordCheck[] = [];
  for (const record of domain.dnsRecords) {
    let found: string[] = [];
    try {
      found =
        record.type === 'TXT'
          ? (await resolver.resolveTxt(record.name)).map((parts) => parts.join(''))
          : await resolver.resolveCname(record.name);
    } catch {
      found = [];
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
  return checks;
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
