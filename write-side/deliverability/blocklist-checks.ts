import type { Resolver } from 'node:dns/promises';
import type pg from 'pg';
import {
  blocklistEventCodec,
  blocklistQueryName,
  blocklistStreamId,
  blocklistVerdict,
  decideBlocklist,
  listedAfter,
  type BlocklistEvent,
  type BlocklistTargetKind,
  type BlocklistVerdict,
} from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import { isNoRecord } from '../../infra/dns/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';

const BLOCKLIST_CHECK_LOCK = 7_303_417_025;

export interface BlocklistCheckDeps {
  pool: pg.Pool;
  tenancy: Pick<TenancyStore, 'sendingTargets'>;
  resolver: Pick<Resolver, 'resolve4' | 'resolveTxt'>;
  eventStore: EventStore;
  logger: Logger;
  clock: Clock;
}

export interface BlocklistSettings {
  /** Lists of IP addresses (zen.spamhaus.org, b.barracudacentral.org). */
  ipZones: string[];
  /** Lists of domains (dbl.spamhaus.org). */
  domainZones: string[];
  /** The configured IP pools: pool name → its addresses. */
  ipPools: Record<string, { address: string }[]>;
}

/** One look-up's outcome: the state after it, and whether it changed (an event was recorded). */
export interface BlocklistCheck {
  kind: BlocklistTargetKind;
  target: string;
  zone: string;
  verdict: BlocklistVerdict;
  reason: string;
  listed: boolean;
  changed: boolean;
}

export interface BlocklistCheckRun {
  /** False when another process was checking at that moment (nothing was done). */
  ran: boolean;
  checks: BlocklistCheck[];
}

/**
 * Looks every sending IP (of the IP pools) up in every IP list and every verified domain in every
 * domain list, now; a change of state (listed, delisted) is an event in the (target, list)'s
 * stream, read first so a check repeated after a crash records nothing twice. The webhook outbox
 * and the blocklist projection take it from there. One process at a time (an advisory lock).
 */
export async function runBlocklistChecks(deps: BlocklistCheckDeps, s: BlocklistSettings): Promise<BlocklistCheckRun> {
  const lockClient = await deps.pool.connect();
  let locked = false;
  let broken: Error | undefined;
  try {
    locked =
      (await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [BLOCKLIST_CHECK_LOCK])).rows[0]
        ?.ok === true;
    if (!locked) return { ran: false, checks: [] };
    const targets = await deps.tenancy.sendingTargets();
    const ips = new Map<string, Set<string>>();
    for (const [pool, addresses] of Object.entries(s.ipPools))
      for (const a of addresses) {
        const servers = ips.get(a.address) ?? new Set<string>();
        for (const p of targets.pools) if (p.ipPool === pool) servers.add(p.serverId);
        ips.set(a.address, servers);
      }
    const work: { kind: BlocklistTargetKind; target: string; zone: string; serverIds: string[] }[] = [
      ...[...ips].flatMap(([ip, servers]) =>
        s.ipZones.map((zone) => ({ kind: 'ip' as const, target: ip, zone, serverIds: [...servers].sort() })),
      ),
      ...targets.domains.flatMap((d) =>
        s.domainZones.map((zone) => ({ kind: 'domain' as const, target: d.name, zone, serverIds: d.serverIds })),
      ),
    ];
    const checks: BlocklistCheck[] = [];
    for (const w of work) {
      try {
        checks.push(await checkOne(deps, w));
      } catch (err) {
        deps.logger.warn({ target: w.target, zone: w.zone, error: (err as Error).message }, 'blocklist check failed');
      }
    }
    return { ran: true, checks };
  } finally {
    if (locked)
      await lockClient
        .query('SELECT pg_advisory_unlock($1)', [BLOCKLIST_CHECK_LOCK])
        .catch((err: Error) => (broken = err));
    lockClient.release(broken);
  }
}

async function lookUp(deps: BlocklistCheckDeps, name: string): Promise<{ verdict: BlocklistVerdict; reason: string }> {
  let addresses: string[];
  try {
    addresses = await deps.resolver.resolve4(name);
  } catch (err) {
    // NXDOMAIN and "no such record" are answers (not listed); a timeout or SERVFAIL is no answer
    if (isNoRecord(err)) return { verdict: { state: 'clean' }, reason: '' };
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return {
      verdict: { state: 'unknown', why: `the look-up of ${name} failed (${code || (err as Error).message})` },
      reason: '',
    };
  }
  const verdict = blocklistVerdict(addresses);
  if (verdict.state !== 'listed') return { verdict, reason: '' };
  const txt = await deps.resolver.resolveTxt(name).catch(() => [] as string[][]);
  return {
    verdict,
    reason: txt
      .map((chunks) => chunks.join(''))
      .join(' ')
      .slice(0, 1000),
  };
}

async function checkOne(
  deps: BlocklistCheckDeps,
  w: { kind: BlocklistTargetKind; target: string; zone: string; serverIds: string[] },
): Promise<BlocklistCheck> {
  const { verdict, reason } = await lookUp(deps, blocklistQueryName(w.kind, w.target, w.zone));
  const streamId = blocklistStreamId(w.kind, w.target, w.zone);
  const recorded = await deps.eventStore.readStream(streamId);
  const history: BlocklistEvent[] = [];
  for (const r of recorded) {
    const d = blocklistEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
    history.push(d.value);
  }
  const before = listedAfter(history);
  if (verdict.state === 'unknown')
    deps.logger.warn({ target: w.target, zone: w.zone, why: verdict.why }, 'blocklist gave no answer: state kept');
  const events = decideBlocklist(before, verdict, {
    kind: w.kind,
    target: w.target,
    zone: w.zone,
    reason,
    serverIds: w.serverIds,
    at: deps.clock.now().toISOString(),
  });
  if (events.length > 0) {
    const appended = await deps.eventStore.append(
      streamId,
      events.map((e) => ({
        type: e.type,
        schemaVersion: blocklistEventCodec.schemaVersionOf(e.type),
        data: e.data,
        metadata: { actor: 'blocklist-check' },
      })),
      recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.revision,
    );
    if (!appended.ok) throw new Error(`the log refused the check's event: ${appended.error.code}`);
    deps.logger.warn(
      { target: w.target, zone: w.zone, codes: events[0]!.data.codes, reason },
      events[0]!.type.endsWith('Delisted') ? 'no longer on a blocklist' : 'listed on a blocklist',
    );
  }
  const listed = events.length > 0 ? !before : before;
  return { ...w, verdict, reason, listed, changed: events.length > 0 };
}
