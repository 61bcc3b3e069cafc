import type { Resolver } from 'node:dns/promises';
import type pg from 'pg';
import {
  decideDnsCheck,
  dnsHealth,
  dnsStatusAfter,
  dnsStatusOf,
  domainDnsStreamId,
  tenancyEventCodec,
  type Domain,
  type TenancyEvent,
} from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { lookUpDnsRecords } from './domain-verification.js';

const DOMAIN_CHECK_LOCK = 7_303_417_023;

export interface DomainCheckDeps {
  pool: pg.Pool;
  tenancy: TenancyStore;
  resolver: Resolver;
  eventStore: EventStore;
  logger: Logger;
  clock: Clock;
  /** The SPF include domains are asked to publish (named in the SPF error). */
  spfInclude: string;
}

export interface DomainCheckRun {
  /** False when another process was checking at that moment (nothing was done). */
  ran: boolean;
  checked: number;
  /** Domains whose status changed (an event was recorded). */
  changed: number;
}

/**
 * The periodic DNS check of verified domains (Postal's CheckAllDNSScheduledTask): each is looked up
 * again once `everyMinutes` have passed since its last check. The result is kept with the domain
 * (GET /v2/domains/{id} shows it); a change of status — starting to fail, passing again — is an event
 * in the domain's stream, which the webhook outbox turns into DomainDNSError. The status before is
 * read from that stream, so a check repeated after a crash records no change twice. One process at
 * a time (a session advisory lock); at most `batchSize` domains per run, the longest unchecked first.
 */
export async function runDomainChecks(
  deps: DomainCheckDeps,
  options: { everyMinutes: number; batchSize?: number },
): Promise<DomainCheckRun> {
  const lockClient = await deps.pool.connect();
  let locked = false;
  let broken: Error | undefined;
  try {
    locked =
      (await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [DOMAIN_CHECK_LOCK])).rows[0]
        ?.ok === true;
    if (!locked) return { ran: false, checked: 0, changed: 0 };
    const now = deps.clock.now();
    const due = await deps.tenancy.domainsDueForDnsCheck(
      new Date(now.getTime() - options.everyMinutes * 60_000),
      options.batchSize ?? 200,
    );
    let changed = 0;
    for (const domain of due) {
      try {
        if (await checkDomain(deps, domain)) changed++;
      } catch (err) {
        deps.logger.warn({ domain: domain.name, error: (err as Error).message }, 'domain DNS check failed');
      }
    }
    return { ran: true, checked: due.length, changed };
  } finally {
    if (locked)
      await lockClient
        .query('SELECT pg_advisory_unlock($1)', [DOMAIN_CHECK_LOCK])
        .catch((err: Error) => (broken = err));
    // a connection that could not unlock is closed: that ends its session and the lock with it
    lockClient.release(broken);
  }
}

/**
 * Checks one domain; true when its status changed. A look-up the resolver did not answer (it is down or
 * restarting) makes the check inconclusive: nothing is recorded, not even the time, so the domain is due
 * again at the next run. Taken as "record missing", it sent DomainDNSError for records that were there.
 */
async function checkDomain(deps: DomainCheckDeps, domain: Domain): Promise<boolean> {
  const { checks: lookups, unanswered } = await lookUpDnsRecords(deps.resolver, domain);
  const [first, ...more] = unanswered;
  if (first) {
    const others = more.length > 0 ? ` and ${more.length} more` : '';
    throw new Error(
      `the resolver did not answer (${first.error} for ${first.name}${others}):` +
        ' the check is inconclusive and is made again at the next run',
    );
  }
  const activeDkim = domain.dkimKeys.filter((k) => k.active).map((k) => `${k.selector}._domainkey.${domain.name}`);
  const health = dnsHealth(lookups, activeDkim, deps.spfInclude);
  const at = deps.clock.now().toISOString();
  const streamId = domainDnsStreamId(domain.id);
  const recorded = await deps.eventStore.readStream(streamId);
  const history: TenancyEvent[] = [];
  for (const r of recorded) {
    const d = tenancyEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
    history.push(d.value);
  }
  const events = decideDnsCheck({
    previous: dnsStatusAfter(history),
    serverId: domain.serverId,
    domain: domain.name,
    health,
    at,
  });
  if (events.length > 0) {
    const appended = await deps.eventStore.append(
      streamId,
      events.map((e) => ({
        type: e.type,
        schemaVersion: tenancyEventCodec.schemaVersionOf(e.type),
        data: e.data,
        metadata: { serverId: domain.serverId, actor: 'domain-check' },
      })),
      recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.revision,
    );
    // another writer in between (only one process checks at a time): the next run decides again
    if (!appended.ok) throw new Error(`the log refused the check's event: ${appended.error.code}`);
    deps.logger.info(
      { domain: domain.name, status: dnsStatusOf(health), health },
      events[0]!.type === 'DomainDnsFailed' ? 'domain DNS check failing' : 'domain DNS check passing again',
    );
  }
  await deps.tenancy.recordDomainDnsCheck(domain.id, { status: dnsStatusOf(health), checkedAt: at, health });
  return events.length > 0;
}
