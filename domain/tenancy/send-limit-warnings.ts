import type { TenancyEvent } from './tenancy-events.js';

export type SendLimitEvent = Extract<TenancyEvent, { type: 'SendLimitApproached' | 'SendLimitExceeded' }>;

/** Share of the hourly send limit at which receivers are warned (Postal: send_limit_approaching?). */
export const SEND_LIMIT_WARNING_SHARE = 0.9;

/**
 * The send-limit events one accepted request causes: the counter of the window went from `before` to
 * `after` messages. Each threshold is crossed by exactly one request per window (the counter is
 * atomic), so each event happens at most once a window. Pure: the window and time are given.
 */
export function sendLimitWarnings(input: {
  serverId: string;
  limit: number;
  before: number;
  after: number;
  windowStart: string;
  at: string;
}): SendLimitEvent[] {
  const { serverId, limit, before, after, windowStart, at } = input;
  const data = { serverId, limit, volume: after, windowStart, at };
  const warnAt = Math.ceil(limit * SEND_LIMIT_WARNING_SHARE);
  const events: SendLimitEvent[] = [];
  if (before < warnAt && after >= warnAt) events.push({ type: 'SendLimitApproached', data });
  // the first message past the limit is held: that is when Postal says the limit is exceeded
  if (before <= limit && after > limit) events.push({ type: 'SendLimitExceeded', data });
  return events;
}
