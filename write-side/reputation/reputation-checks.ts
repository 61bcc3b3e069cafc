import type pg from 'pg';
import {
  decideReputation,
  pauseHolding,
  rateOf,
  reputationStreamId,
  tenancyEventCodec,
  thresholdsWith,
  windowStartOf,
  type ReputationCounts,
  type ReputationEvent,
  type ReputationKind,
  type ReputationState,
  type ReputationThresholds,
} from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { DeliverabilityStore } from '../../infra/deliverability/index.js';
import { messagesForBulkAction } from '../../infra/delivery-queue/index.js';
import type { EventStore, ExpectedRevision } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { reputationCountsOf, reputationScopesSince } from '../../infra/reputation/index.js';
import { handleMessageCommand, loadMessage } from '../message-command-handler.js';
import { loadReputation } from './reputation-state.js';

const REPUTATION_CHECK_LOCK = 7_303_417_025;
/** Who releases the messages a lifted pause held (the message's history names it). */
export const REPUTATION_GUARD_ACTOR = 'reputation-guard';

export interface ReputationCheckDeps {
  pool: pg.Pool;
  eventStore: EventStore;
  logger: Logger;
  clock: Clock;
  /** Servers' own thresholds; none: the configured ones for all. */
  deliverability?: DeliverabilityStore | undefined;
}

export interface ReputationSettings {
  windowHours: number;
  minVolume: number;
  thresholds: ReputationThresholds;
}

/** One scope's figures as the last check saw them (GET /v2/servers/{id}/reputation, the metrics). */
export interface ScopeFigures {
  serverId: string;
  /** null: the whole server. */
  domain: string | null;
  windowStart: string;
  counts: ReputationCounts;
  rates: Record<ReputationKind, { rate: number; count: number; volume: number; counts: boolean }>;
  paused: boolean;
}

export interface ReputationCheckRun {
  /** False when another process was checking at that moment (nothing was done). */
  ran: boolean;
  figures: ScopeFigures[];
  /** Events recorded (warnings, recoveries, pauses). */
  recorded: number;
  released: number;
}

/**
 * The reputation guard's periodic check: every server and sending domain with counts in the window
 * (reputation projection) is measured against the thresholds, and what changed is recorded in the
 * server's reputation stream (decideReputation). The state before is read from that stream, so a
 * check repeated after a crash records nothing twice. Then the messages held by a pause that has been
 * lifted since are released (a resume releases them at once; this catches those the delivery queue
 * did not show yet). One process at a time (a session advisory lock).
 */
export async function runReputationChecks(
  deps: ReputationCheckDeps,
  settings: ReputationSettings,
): Promise<ReputationCheckRun> {
  const lockClient = await deps.pool.connect();
  let locked = false;
  let broken: Error | undefined;
  try {
    locked =
      (await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [REPUTATION_CHECK_LOCK]))
        .rows[0]?.ok === true;
    if (!locked) return { ran: false, figures: [], recorded: 0, released: 0 };
    const at = deps.clock.now().toISOString();
    const windowStart = new Date(Date.parse(at) - settings.windowHours * 3600_000).toISOString();
    const pairs = await reputationScopesSince(deps.pool, windowStart, null);
    const servers = [...new Set(pairs.map((p) => p.serverId))];
    const figures: ScopeFigures[] = [];
    let recorded = 0;
    let released = 0;
    for (const serverId of servers) {
      const domains = [null, ...pairs.filter((p) => p.serverId === serverId).map((p) => p.domain)];
      try {
        const loaded = await loadReputation(deps.eventStore, serverId);
        const own = await serverSettings(deps, serverId, settings);
        const measured = await measure(deps.pool, serverId, domains, loaded.state, at, own);
        const events = measured.flatMap((m) =>
          decideReputation({
            serverId,
            domain: m.domain,
            state: loaded.state,
            counts: m.counts,
            thresholds: own.thresholds,
            minVolume: own.minVolume,
            windowStart: m.windowStart,
            at,
          }),
        );
        if (events.length > 0) {
          await appendReputation(deps.eventStore, serverId, events, loaded.revision, 'reputation-check');
          recorded += events.length;
          for (const e of events)
            if (e.type === 'SendingPaused') deps.logger.warn({ serverId, domain: e.data.domain }, e.data.reason);
        }
        const after = await loadReputation(deps.eventStore, serverId);
        figures.push(...measured.map((m) => ({ ...m, paused: after.state.get(m.domain ?? '')?.paused != null })));
        // a pause lifted within the window may have left messages the resume did not see yet
        const resumed = [...after.state.values()].some((s) => s.resumedAt && s.resumedAt >= windowStart);
        if (resumed) released += await releaseHeld(deps, serverId, after.state);
      } catch (err) {
        deps.logger.warn({ serverId, error: (err as Error).message }, 'reputation check failed');
      }
    }
    return { ran: true, figures, recorded, released };
  } finally {
    if (locked)
      await lockClient
        .query('SELECT pg_advisory_unlock($1)', [REPUTATION_CHECK_LOCK])
        .catch((err: Error) => (broken = err));
    // a connection that could not unlock is closed: that ends its session and the lock with it
    lockClient.release(broken);
  }
}

/** The settings for one server: its own thresholds (its deliverability settings) over the configured ones. */
export async function serverSettings(
  deps: Pick<ReputationCheckDeps, 'deliverability'>,
  serverId: string,
  settings: ReputationSettings,
): Promise<ReputationSettings> {
  const own = (await deps.deliverability?.get(serverId))?.reputation;
  return { ...settings, thresholds: thresholdsWith(settings.thresholds, own) };
}

/** The counts and rates of each scope of a server (null: the whole server) over its window. */
export async function measure(
  pool: pg.Pool,
  serverId: string,
  domains: (string | null)[],
  state: ReputationState,
  at: string,
  settings: ReputationSettings,
): Promise<Omit<ScopeFigures, 'paused'>[]> {
  const scopes = domains.map((domain) => ({
    serverId,
    domain: domain ?? '',
    since: windowStartOf(state, domain, at, settings.windowHours),
  }));
  const counted = await reputationCountsOf(pool, scopes);
  return counted.map((c) => {
    const counts = { delivered: c.delivered, bounced: c.bounced, hardBounces: c.hardBounces, complaints: c.complaints };
    const rate = (kind: ReputationKind) => {
      const r = rateOf(kind, counts);
      return { ...r, counts: r.volume >= settings.minVolume };
    };
    return {
      serverId,
      domain: c.domain === '' ? null : c.domain,
      windowStart: c.since,
      counts,
      rates: { complaint: rate('complaint'), hard_bounce: rate('hard_bounce') },
    };
  });
}

/** Appends guard events to the server's stream after `revision` (a writer in between: the caller decides again). */
export async function appendReputation(
  store: EventStore,
  serverId: string,
  events: ReputationEvent[],
  revision: ExpectedRevision,
  actor: string,
): Promise<void> {
  const appended = await store.append(
    reputationStreamId(serverId),
    events.map((e) => ({
      type: e.type,
      schemaVersion: tenancyEventCodec.schemaVersionOf(e.type),
      data: e.data,
      metadata: { serverId, actor },
    })),
    revision,
  );
  if (!appended.ok) throw new Error(`the log refused the reputation events: ${appended.error.code}`);
}

/**
 * Releases the server's messages the guard held whose server and sending domain are no longer
 * paused (as an operator: nothing else may release them). Returns how many were released.
 */
export async function releaseHeld(
  deps: Pick<ReputationCheckDeps, 'pool' | 'eventStore' | 'clock'>,
  serverId: string,
  state: ReputationState,
): Promise<number> {
  const ids = await messagesForBulkAction(deps.pool, {
    servers: [serverId],
    state: 'held',
    recipientDomain: null,
    ids: null,
    limit: 10_000,
  });
  let released = 0;
  for (const id of ids) {
    const loaded = await loadMessage(deps.eventStore, id);
    if (!loaded.ok || loaded.value.state.heldReason !== 'reputation') continue;
    const from = loaded.value.state.envelope?.from ?? '';
    if (pauseHolding(state, from.slice(from.lastIndexOf('@') + 1))) continue;
    const at = deps.clock.now().toISOString();
    const result = await handleMessageCommand(
      deps.eventStore,
      id,
      { type: 'Release', by: REPUTATION_GUARD_ACTOR, operator: true, at },
      { serverId, actor: REPUTATION_GUARD_ACTOR },
      5,
      loaded.value,
    );
    if (result.ok) released++;
  }
  return released;
}
