import { parseMailbox } from '../values/email-address.js';
import type { PostalEndpointRef, PostalRoute, PostalSnapshot } from './postal-rows.js';

/**
 * A Postal route as a Postlog route: its address, mode, spam mode and endpoints. Postal's main
 * endpoint and its additional endpoints (additional_route_endpoints) are all Postlog endpoints of
 * the route, in that order: HTTP (JSON, form or raw), another SMTP server (host:port), an address.
 */

/** One target of a route, as Postlog's route endpoints hold it (infra/routes/). */
export interface PlannedEndpoint {
  kind: 'http' | 'smtp' | 'address';
  /** http: the URL; smtp: host:port; address: the mailbox. */
  target: string;
  format: 'json' | 'form' | 'raw';
  stripReplies: boolean;
  includeAttachments: boolean;
  timeoutSeconds: number;
}

export interface PlannedRoute {
  postalId: string;
  serverPostalId: string;
  address: string;
  mode: 'endpoint' | 'accept' | 'hold' | 'bounce' | 'reject';
  spamMode: 'mark' | 'quarantine' | 'fail';
  /** Mode endpoint: the main endpoint first, then the additional ones; other modes: none. */
  endpoints: PlannedEndpoint[];
}

type Skip = (what: string, reason: string) => void;

const MODES = { Endpoint: 'endpoint', Accept: 'accept', Hold: 'hold', Bounce: 'bounce', Reject: 'reject' } as const;
const SPAM_MODES = { Mark: 'mark', Quarantine: 'quarantine', Fail: 'fail' } as const;
/** Postlog's route endpoints wait 1-60 s; Postal's HTTP endpoints 5-60 s (30 where it has none). */
const DEFAULT_TIMEOUT_SECONDS = 30;
/** What Postlog's route API takes as an SMTP endpoint's host. */
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/;

export function plannedRoute(r: PostalRoute, label: string, snapshot: PostalSnapshot, skip: Skip): PlannedRoute[] {
  const address = r.domainName ? `${r.name}@${r.domainName}`.toLowerCase() : null;
  const what = `route ${address ?? r.name} (${label})`;
  if (!address) {
    skip(what, "it has no domain (Postal's route-domain address): Postlog routes addresses of a domain");
    return [];
  }
  const mode = MODES[(r.mode ?? 'Endpoint') as keyof typeof MODES];
  if (!mode) {
    skip(what, `mode ${r.mode} is not one of Postal's`);
    return [];
  }
  const spamMode = SPAM_MODES[(r.spamMode ?? 'Mark') as keyof typeof SPAM_MODES] ?? 'mark';
  if (mode !== 'endpoint') {
    // Postal keeps no additional endpoints on such routes; a stale row would route nothing there either
    return [{ postalId: String(r.id), serverPostalId: String(r.serverId), address, mode, spamMode, endpoints: [] }];
  }
  const refs = [{ endpointType: r.endpointType, endpointId: r.endpointId }, ...r.additionalEndpoints];
  const seen = new Set<string>();
  const endpoints: PlannedEndpoint[] = [];
  for (const [i, ref] of refs.entries()) {
    const key = `${ref.endpointType}#${ref.endpointId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const planned = plannedEndpoint(ref, snapshot);
    if (typeof planned === 'string') {
      const which = i === 0 ? 'its endpoint' : `additional endpoint ${ref.endpointType ?? '?'} ${ref.endpointId}`;
      skip(i === 0 ? what : `${which} of ${what}`, i === 0 ? `its endpoint is ${planned}` : planned);
      continue;
    }
    endpoints.push(planned);
  }
  if (endpoints.length === 0) {
    if (refs.length > 1) skip(what, 'none of its endpoints could be carried over');
    return [];
  }
  return [{ postalId: String(r.id), serverPostalId: String(r.serverId), address, mode, spamMode, endpoints }];
}

/** A Postal endpoint as a Postlog one, or why it cannot be (a text that starts with the endpoint's type). */
function plannedEndpoint(ref: PostalEndpointRef, snapshot: PostalSnapshot): PlannedEndpoint | string {
  const missing = `${ref.endpointType ?? 'missing'}${ref.endpointId === null ? '' : ` ${ref.endpointId}`}, which Postal does not have`;
  const base = { format: 'json', stripReplies: false, includeAttachments: true } as const;
  switch (ref.endpointType) {
    case 'HTTPEndpoint': {
      const e = snapshot.httpEndpoints.find((x) => x.id === ref.endpointId);
      if (!e) return missing;
      return {
        kind: 'http',
        target: e.url,
        format: e.format === 'RawMessage' ? 'raw' : e.encoding === 'FormData' ? 'form' : 'json',
        stripReplies: e.stripReplies,
        includeAttachments: e.includeAttachments,
        timeoutSeconds: Math.min(60, Math.max(1, e.timeout ?? DEFAULT_TIMEOUT_SECONDS)),
      };
    }
    case 'SMTPEndpoint': {
      const e = snapshot.smtpEndpoints.find((x) => x.id === ref.endpointId);
      if (!e) return missing;
      const port = e.port ?? 25;
      if (!HOST.test(e.hostname)) return `SMTPEndpoint ${e.name}: ${e.hostname} is not a host name`;
      // Postlog's relay speaks TLS from the start on port 465 only (STARTTLS when offered elsewhere)
      if (e.sslMode === 'TLS' && port !== 465)
        return `SMTPEndpoint ${e.name} (${e.hostname}:${port}): Postlog uses implicit TLS on port 465 only`;
      return { kind: 'smtp', target: `${e.hostname.toLowerCase()}:${port}`, ...base, timeoutSeconds: 30 };
    }
    case 'AddressEndpoint': {
      const e = snapshot.addressEndpoints.find((x) => x.id === ref.endpointId);
      if (!e) return missing;
      const mailbox = parseMailbox(e.address.trim());
      if (!mailbox.ok || e.address.includes('<')) return `AddressEndpoint ${e.address}: not an address`;
      return { kind: 'address', target: mailbox.value.address, ...base, timeoutSeconds: 30 };
    }
    default:
      return missing;
  }
}
