import type { DnsHealth, DnsRecordHealth, TenancyEvent } from './tenancy-events.js';

/** What a look-up found for one published record (write-side/admin/domain-verification.ts makes them). */
export interface RecordLookup {
  purpose: string;
  name: string;
  expected: string;
  found: string[];
  ok: boolean;
}

export type DnsCheckStatus = 'ok' | 'failing';

const ok: DnsRecordHealth = { status: 'OK', error: null };

/**
 * Postal's verdict per kind of record (app/models/concerns/has_dns_checks.rb), from our look-ups:
 * SPF must include ours, every active DKIM key must be published as given, and a return-path
 * CNAME, when there is one, must point to us (a missing one only costs bounce handling).
 */
export function dnsHealth(lookups: RecordLookup[], activeDkimNames: string[], spfInclude: string): DnsHealth {
  const spfs = lookups.filter((l) => l.purpose === 'spf');
  const spf: DnsRecordHealth = spfs.some((l) => l.ok)
    ? ok
    : spfs.some((l) => l.found.some((f) => /^v=spf1\b/i.test(f.trim())))
      ? { status: 'Invalid', error: `An SPF record exists but it doesn't include ${spfInclude}` }
      : { status: 'Missing', error: 'No SPF record exists for this domain' };

  const dkims = lookups.filter((l) => l.purpose === 'dkim' && activeDkimNames.includes(l.name));
  const missing = dkims.find((l) => l.found.length === 0);
  const wrong = dkims.find((l) => !l.ok);
  const dkim: DnsRecordHealth = missing
    ? { status: 'Missing', error: `No TXT records were returned for ${missing.name}` }
    : wrong
      ? {
          status: 'Invalid',
          error: `The DKIM record at ${wrong.name} does not match the record we have provided`,
        }
      : ok;

  const rp = lookups.find((l) => l.purpose === 'return-path');
  const returnPath: DnsRecordHealth =
    !rp || rp.ok
      ? ok
      : rp.found.length === 0
        ? { status: 'Missing', error: `There is no return path record at ${rp.name}` }
        : {
            status: 'Invalid',
            error:
              `There is a CNAME record at ${rp.name} but it points to ${rp.found[0]} which is incorrect. ` +
              `It should point to ${rp.expected}.`,
          };
  return { spf, dkim, returnPath };
}

/** Postal's dns_ok?: SPF and DKIM in place, a return path in place or absent. */
export const dnsStatusOf = (h: DnsHealth): DnsCheckStatus =>
  h.spf.status === 'OK' && h.dkim.status === 'OK' && h.returnPath.status !== 'Invalid' ? 'ok' : 'failing';

/**
 * The event a check causes, given the status the domain's events last recorded (undefined: never a
 * change yet, i.e. passing): one when it starts failing, one when it passes again, none otherwise.
 */
export function decideDnsCheck(input: {
  previous: DnsCheckStatus | undefined;
  serverId: string;
  domain: string;
  health: DnsHealth;
  at: string;
}): TenancyEvent[] {
  const now = dnsStatusOf(input.health);
  const data = { serverId: input.serverId, domain: input.domain, health: input.health, at: input.at };
  if (now === 'failing' && input.previous !== 'failing') return [{ type: 'DomainDnsFailed', data }];
  if (now === 'ok' && input.previous === 'failing') return [{ type: 'DomainDnsRestored', data }];
  return [];
}

/** The status a domain's DNS events leave it in. */
export function dnsStatusAfter(events: TenancyEvent[]): DnsCheckStatus | undefined {
  let status: DnsCheckStatus | undefined;
  for (const e of events) {
    if (e.type === 'DomainDnsFailed') status = 'failing';
    else if (e.type === 'DomainDnsRestored') status = 'ok';
  }
  return status;
}
