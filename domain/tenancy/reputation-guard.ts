import type { ReputationKind, TenancyEvent } from './tenancy-events.js';

/**
 * The reputation guard's rules (issue 25): per server and per sending domain, the complaint rate and
 * the hard-bounce rate over a sliding window, against thresholds from the 2024 bulk-sender rules of
 * Gmail and Yahoo. Pure: the counts, the state folded from the server's reputation stream and the
 * time are given; write-side/reputation/ reads them and appends what this decides.
 */

export type ReputationEvent = Extract<
  TenancyEvent,
  { type: 'ReputationWarning' | 'ReputationRecovered' | 'SendingPaused' | 'SendingResumed' }
>;

/** Warn and pause thresholds per kind, as fractions (0.003 is 0.3 %). */
export interface ReputationThresholds {
  complaint: { warn: number; pause: number };
  hard_bounce: { warn: number; pause: number };
}

/** Gmail's and Yahoo's 2024 rules: complaints stay under 0.3 % (aim under 0.1 %); hard bounces under 5 % / 2 %. */
export const DEFAULT_REPUTATION_THRESHOLDS: ReputationThresholds = {
  complaint: { warn: 0.001, pause: 0.003 },
  hard_bounce: { warn: 0.02, pause: 0.05 },
};

/** A server's own thresholds (percentages, any left out) over the configured ones. */
export function thresholdsWith(
  base: ReputationThresholds,
  own:
    | {
        complaintWarnPercent?: number | undefined;
        complaintPausePercent?: number | undefined;
        bounceWarnPercent?: number | undefined;
        bouncePausePercent?: number | undefined;
      }
    | null
    | undefined,
): ReputationThresholds {
  if (!own) return base;
  const f = (p: number | undefined, d: number) => (p === undefined ? d : p / 100);
  return {
    complaint: {
      warn: f(own.complaintWarnPercent, base.complaint.warn),
      pause: f(own.complaintPausePercent, base.complaint.pause),
    },
    hard_bounce: {
      warn: f(own.bounceWarnPercent, base.hard_bounce.warn),
      pause: f(own.bouncePausePercent, base.hard_bounce.pause),
    },
  };
}

/** What the window holds for one scope (a server, or one of its sending domains). */
export interface ReputationCounts {
  /** Messages delivered (the complaint rate is of these). */
  delivered: number;
  /** Messages bounced, hard or not (with the delivered ones, the hard-bounce rate is of these). */
  bounced: number;
  /** Bounces whose recipient is suppressed: the address is bad, not a policy block or a full mailbox. */
  hardBounces: number;
  complaints: number;
}

/** The guard's state for one scope, folded from the reputation stream. */
export interface ScopeReputation {
  /** Kinds whose warning was raised and has not recovered. */
  warned: ReputationKind[];
  /** The pause in force, if any. */
  paused: Extract<ReputationEvent, { type: 'SendingPaused' }>['data'] | null;
  /** The last resume: the window does not reach back before it. */
  resumedAt: string | null;
}

/** A server's guard state; the key is the domain, '' for the server as a whole. */
export type ReputationState = Map<string, ScopeReputation>;

export const scopeKey = (domain: string | null) => domain ?? '';
const emptyScope = (): ScopeReputation => ({ warned: [], paused: null, resumedAt: null });

/** Folds a server's reputation events (in log order). */
export function reputationStateOf(events: ReputationEvent[]): ReputationState {
  const state: ReputationState = new Map();
  for (const e of events) {
    const key = scopeKey(e.data.domain);
    const s = state.get(key) ?? emptyScope();
    state.set(key, s);
    switch (e.type) {
      case 'ReputationWarning':
        if (!s.warned.includes(e.data.kind)) s.warned = [...s.warned, e.data.kind];
        break;
      case 'ReputationRecovered':
        s.warned = s.warned.filter((k) => k !== e.data.kind);
        break;
      case 'SendingPaused':
        s.paused = e.data;
        break;
      case 'SendingResumed':
        s.paused = null;
        s.warned = [];
        s.resumedAt = e.data.at;
        break;
    }
  }
  return state;
}

/** Where a scope's window starts at `at`: the window's length before, or its last resume if that is later. */
export function windowStartOf(state: ReputationState, domain: string | null, at: string, windowHours: number): string {
  const start = new Date(Date.parse(at) - windowHours * 3600_000).toISOString();
  const resumedAt = state.get(scopeKey(domain))?.resumedAt;
  return resumedAt && Date.parse(resumedAt) > Date.parse(start) ? resumedAt : start;
}

/** The rate of a kind and what it is of. */
export function rateOf(kind: ReputationKind, c: ReputationCounts): { count: number; volume: number; rate: number } {
  const count = kind === 'complaint' ? c.complaints : c.hardBounces;
  const volume = kind === 'complaint' ? c.delivered : c.delivered + c.bounced;
  return { count, volume, rate: volume === 0 ? 0 : count / volume };
}

const percent = (f: number) => `${Number((f * 100).toFixed(3))} %`;
const kindName = (k: ReputationKind) => (k === 'complaint' ? 'complaint rate' : 'hard-bounce rate');

/**
 * The events one check of one scope causes. Below `minVolume` a rate says nothing (one complaint in
 * ten messages is not a reputation): nothing changes. At or over the pause threshold the scope is
 * paused (once: it stays paused until an operator resumes it); at or over the warning threshold a
 * warning is raised once; a warned rate that falls below the warning threshold recovers.
 */
export function decideReputation(input: {
  serverId: string;
  domain: string | null;
  state: ReputationState;
  counts: ReputationCounts;
  thresholds: ReputationThresholds;
  minVolume: number;
  windowStart: string;
  at: string;
}): ReputationEvent[] {
  const { serverId, domain, state, counts, thresholds, minVolume, windowStart, at } = input;
  const scope = state.get(scopeKey(domain)) ?? emptyScope();
  const events: ReputationEvent[] = [];
  let paused = scope.paused !== null;
  for (const kind of ['complaint', 'hard_bounce'] as const) {
    const { count, volume, rate } = rateOf(kind, counts);
    if (volume < minVolume) continue;
    const { warn, pause } = thresholds[kind];
    const measure = { serverId, domain, kind, rate, count, volume, windowStart, at };
    const warned = scope.warned.includes(kind);
    if (rate >= warn && !warned) events.push({ type: 'ReputationWarning', data: { ...measure, threshold: warn } });
    if (rate < warn && warned) events.push({ type: 'ReputationRecovered', data: { ...measure, threshold: warn } });
    if (rate >= pause && !paused) {
      paused = true;
      const reason =
        `the ${kindName(kind)} of ${domain ?? 'the server'} is ${percent(rate)} (${count} of ${volume}) ` +
        `since ${windowStart}, at or over the pause threshold of ${percent(pause)}`;
      events.push({ type: 'SendingPaused', data: { ...measure, threshold: pause, reason } });
    }
  }
  return events;
}

/**
 * The pause that holds new mail from `fromDomain` of the server: the server's own, else its domain's.
 * Undefined: the mail goes on.
 */
export function pauseHolding(state: ReputationState, fromDomain: string): ScopeReputation['paused'] | undefined {
  return state.get('')?.paused ?? state.get(fromDomain.toLowerCase())?.paused ?? undefined;
}

/** An operator's resume: every paused scope of the server (domain null), or the one domain's. */
export function decideResume(input: {
  serverId: string;
  domain: string | null;
  state: ReputationState;
  by: string;
  at: string;
}): ReputationEvent[] {
  const { serverId, domain, state, by, at } = input;
  const scopes =
    domain === null
      ? [...state.entries()].filter(([, s]) => s.paused).map(([k]) => k)
      : state.get(scopeKey(domain))?.paused
        ? [scopeKey(domain)]
        : [];
  return scopes.map((k) => ({ type: 'SendingResumed', data: { serverId, domain: k === '' ? null : k, by, at } }));
}
