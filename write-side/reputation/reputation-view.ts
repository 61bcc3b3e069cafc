import type pg from 'pg';
import { z } from 'zod';
import { decideResume } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { DeliverabilityStore } from '../../infra/deliverability/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { reputationScopesSince } from '../../infra/reputation/index.js';
import {
  appendReputation,
  measure,
  releaseHeld,
  serverSettings,
  type ReputationSettings,
} from './reputation-checks.js';
import { loadReputation } from './reputation-state.js';

/** What the API and the CLI read and change of the reputation guard. */
export interface ReputationDeps {
  pool: pg.Pool;
  eventStore: EventStore;
  clock: Clock;
  settings: ReputationSettings;
  /** Servers' own thresholds. */
  deliverability?: DeliverabilityStore | undefined;
}

const percent = (f: number) => Number((f * 100).toFixed(4));
const Rate = z.object({
  percent: z.number().describe('the rate in percent'),
  count: z.number().describe('complaints, or hard bounces'),
  volume: z.number().describe('delivered messages (complaints), delivered and bounced ones (hard bounces)'),
  counts: z.boolean().describe('whether the volume reaches the minimum, so that the rate can warn or pause'),
});
const Pause = z.object({ kind: z.enum(['complaint', 'hard_bounce']), reason: z.string(), at: z.string() });
const Scope = z.object({
  domain: z.string().nullable().describe('the sending domain; null: the whole server'),
  windowStart: z.string(),
  delivered: z.number(),
  bounced: z.number(),
  hardBounces: z.number(),
  complaints: z.number(),
  complaint: Rate,
  hardBounce: Rate,
  warned: z.array(z.enum(['complaint', 'hard_bounce'])),
  paused: Pause.nullable(),
});
export const Reputation = z.object({
  serverId: z.string(),
  windowHours: z.number(),
  minVolume: z.number(),
  thresholds: z.object({
    complaint: z.object({ warnPercent: z.number(), pausePercent: z.number() }),
    hardBounce: z.object({ warnPercent: z.number(), pausePercent: z.number() }),
  }),
  paused: z.boolean().describe('new mail of the server, or of one of its domains, is held'),
  scopes: z.array(Scope),
});

export type ReputationView = z.infer<typeof Reputation>;

/** A server's rates (its own and each sending domain's) over the window, thresholds, warnings and pauses. */
export async function reputationView(deps: ReputationDeps, serverId: string): Promise<ReputationView> {
  const settings = await serverSettings(deps, serverId, deps.settings);
  const at = deps.clock.now().toISOString();
  const { state } = await loadReputation(deps.eventStore, serverId);
  const since = new Date(Date.parse(at) - settings.windowHours * 3600_000).toISOString();
  const counted = (await reputationScopesSince(deps.pool, since, [serverId])).map((s) => s.domain);
  const domains = [...new Set([...counted, ...[...state.keys()].filter((k) => k !== '')])];
  const figures = await measure(deps.pool, serverId, [null, ...domains], state, at, settings);
  const scopes = figures.map((f) => {
    const s = state.get(f.domain ?? '');
    const rate = (r: (typeof f.rates)['complaint']) => ({
      percent: percent(r.rate),
      count: r.count,
      volume: r.volume,
      counts: r.counts,
    });
    return {
      domain: f.domain,
      windowStart: f.windowStart,
      ...f.counts,
      complaint: rate(f.rates.complaint),
      hardBounce: rate(f.rates.hard_bounce),
      warned: s?.warned ?? [],
      paused: s?.paused ? { kind: s.paused.kind, reason: s.paused.reason, at: s.paused.at } : null,
    };
  });
  const t = settings.thresholds;
  return {
    serverId,
    windowHours: settings.windowHours,
    minVolume: settings.minVolume,
    thresholds: {
      complaint: { warnPercent: percent(t.complaint.warn), pausePercent: percent(t.complaint.pause) },
      hardBounce: { warnPercent: percent(t.hard_bounce.warn), pausePercent: percent(t.hard_bounce.pause) },
    },
    paused: scopes.some((s) => s.paused !== null),
    scopes,
  };
}

/**
 * An operator's resume: SendingResumed for every paused scope of the server (domain null) or the one
 * domain's, decided again if the check appended in between; then the mail the pause held is released.
 */
export async function resumeSending(
  deps: ReputationDeps,
  serverId: string,
  domain: string | null,
  by: string,
): Promise<{ resumed: (string | null)[]; released: number }> {
  let resumed: (string | null)[] = [];
  for (let attempt = 0; ; attempt++) {
    const loaded = await loadReputation(deps.eventStore, serverId);
    const events = decideResume({ serverId, domain, state: loaded.state, by, at: deps.clock.now().toISOString() });
    if (events.length === 0) break;
    try {
      await appendReputation(deps.eventStore, serverId, events, loaded.revision, by);
      resumed = events.map((e) => e.data.domain);
      break;
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }
  const { state } = await loadReputation(deps.eventStore, serverId);
  return { resumed, released: await releaseHeld(deps, serverId, state) };
}
