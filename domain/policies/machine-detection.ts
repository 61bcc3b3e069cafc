/**
 * Is a tracking hit a person, or a machine fetching on their behalf? Apple Mail Privacy
 * Protection and Google's image proxy load every image; security scanners click links within
 * seconds of delivery, or every link of a message at once. Analysts count both, apart.
 */
export interface HitFacts {
  kind: 'open' | 'click';
  userAgent: string;
  /** When the message was delivered, if it was. */
  deliveredAt?: Date;
  now: Date;
  /** Other clicks on this message in the last few seconds (different links). */
  recentDistinctClicks?: number;
}

const SCANNERS =
  /bot\b|crawler|spider|preview|proofpoint|mimecast|barracuda|messagelabs|symantec|trend ?micro|safelinks|urldefense|fireeye|forcepoint|cisco|ironport|sophos|zscaler|headlesschrome|python-requests|curl\/|wget\/|go-http-client|java\//i;

export function machineHit(f: HitFacts): { machine: boolean; reason?: string } {
  const ua = f.userAgent.trim();
  if (ua === '') return { machine: true, reason: 'no user agent' };
  if (/GoogleImageProxy|ggpht\.com/i.test(ua)) return { machine: true, reason: 'Google image proxy' };
  if (/YahooMailProxy/i.test(ua)) return { machine: true, reason: 'Yahoo mail proxy' };
  // Apple Mail Privacy Protection fetches with a bare "Mozilla/5.0" and nothing else
  if (f.kind === 'open' && /^Mozilla\/5\.0$/.test(ua))
    return { machine: true, reason: 'Apple Mail Privacy Protection' };
  if (SCANNERS.test(ua)) return { machine: true, reason: 'automated client' };
  if (f.kind === 'click') {
    if (f.deliveredAt && f.now.getTime() - f.deliveredAt.getTime() < 10_000)
      return { machine: true, reason: 'clicked within seconds of delivery' };
    if ((f.recentDistinctClicks ?? 0) >= 2) return { machine: true, reason: 'every link at once' };
  }
  return { machine: false };
}
