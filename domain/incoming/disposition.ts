import type { Disposition } from './commands.js';
import type { EndpointRef, RouteMode, ScanResult, SpamMode } from './events.js';

export interface RoutePolicy {
  mode: RouteMode;
  spamMode: SpamMode;
  endpoints: EndpointRef[];
}

export interface SpamThresholds {
  /** At or above: spam (the route's spam mode acts). Postal's default is 5. */
  spam: number;
  /** At or above: refused whatever the spam mode. Postal's default is 20. */
  fail: number;
}

/**
 * What becomes of a message received for a route, from the route's mode and the scanners' verdict.
 * A virus is refused, or held when the route quarantines; spam follows the route's spam mode
 * (mark: goes on, marked; quarantine: held; fail: refused); past the fail threshold it is refused
 * whatever the mode. Then the route's mode: endpoints, store only, hold, or bounce.
 */
export function dispositionFor(
  route: RoutePolicy,
  scan: ScanResult | undefined,
  thresholds: SpamThresholds,
): Disposition {
  if (scan?.virus) {
    const detail = `virus found: ${scan.virus}`;
    return route.spamMode === 'quarantine'
      ? { kind: 'hold', reason: 'virus', detail }
      : { kind: 'reject', reason: 'virus', reply: `Message refused: ${detail}` };
  }
  const score = scan?.spamScore;
  if (score !== undefined) {
    const detail = `spam score ${score} (threshold ${thresholds.spam})`;
    if (score >= thresholds.fail)
      return { kind: 'reject', reason: 'spam', reply: `Message refused as spam: ${detail}` };
    if (score >= thresholds.spam && route.spamMode === 'fail')
      return { kind: 'reject', reason: 'spam', reply: `Message refused as spam: ${detail}` };
    if (score >= thresholds.spam && route.spamMode === 'quarantine') return { kind: 'hold', reason: 'spam', detail };
  }
  switch (route.mode) {
    case 'endpoint': {
      const [first, ...rest] = route.endpoints;
      return first ? { kind: 'route', endpoints: [first, ...rest] } : { kind: 'store' };
    }
    case 'accept':
      return { kind: 'store' };
    case 'hold':
      return { kind: 'hold', reason: 'route', detail: 'the route holds its mail' };
    case 'bounce':
    case 'reject':
      // a reject route answers at RCPT; one reached here (changed meanwhile) bounces
      return { kind: 'bounce', reply: 'This address takes no mail' };
  }
}

/** Postal's spam_status for a verdict. */
export function spamStatusOf(score: number | undefined, threshold: number): ScanResult['spamStatus'] {
  return score === undefined ? 'NotChecked' : score >= threshold ? 'Spam' : 'NotSpam';
}
