import type { TenancyEvent } from '../tenancy/index.js';
import type { WebhookEventName } from './webhook-events.js';

/** What a payload says about a server (Postal's server webhook_hash). */
export interface ServerFacts {
  serverId: string;
  name: string;
  organizationId: string;
}

/**
 * Postal's server hash (app/models/server.rb, webhook_hash). Postlog has no permalinks: the server's
 * and the organization's ids stand in for them.
 */
export const serverHash = (s: ServerFacts) => ({
  uuid: s.serverId,
  name: s.name,
  permalink: s.serverId,
  organization: s.organizationId,
});

const seconds = (iso: string) => new Date(iso).getTime() / 1000;

/**
 * The webhook event and Postal-compatible payload for a server's or a domain's event, or undefined
 * when receivers do not hear of it (a domain whose DNS check passes again: Postal has no event).
 * `domainId` is the domain's, for its events (Postal's domain uuid).
 */
export function tenancyWebhookPayload(
  e: TenancyEvent,
  server: ServerFacts,
  domainId?: string,
): { event: WebhookEventName; payload: Record<string, unknown> } | undefined {
  switch (e.type) {
    case 'SendLimitApproached':
      return {
        event: 'SendLimitApproaching',
        payload: { server: serverHash(server), volume: e.data.volume, limit: e.data.limit },
      };
    case 'SendLimitExceeded':
      return {
        event: 'SendLimitExceeded',
        payload: { server: serverHash(server), volume: e.data.volume, limit: e.data.limit },
      };
    case 'DomainDnsFailed': {
      // app/models/concerns/has_dns_checks.rb, check_dns; Postlog asks for no MX record, so it checks none
      const h = e.data.health;
      return {
        event: 'DomainDNSError',
        payload: {
          server: serverHash(server),
          domain: e.data.domain,
          uuid: domainId ?? null,
          dns_checked_at: seconds(e.data.at),
          spf_status: h.spf.status,
          spf_error: h.spf.error,
          dkim_status: h.dkim.status,
          dkim_error: h.dkim.error,
          mx_status: null,
          mx_error: null,
          return_path_status: h.returnPath.status,
          return_path_error: h.returnPath.error,
        },
      };
    }
    case 'ReputationWarning':
    case 'SendingPaused': {
      const d = e.data;
      return {
        event: e.type,
        payload: {
          server: serverHash(server),
          domain: d.domain,
          kind: d.kind,
          rate: d.rate,
          count: d.count,
          volume: d.volume,
          threshold: d.threshold,
          window_start: seconds(d.windowStart),
          timestamp: seconds(d.at),
          ...(e.type === 'SendingPaused' ? { reason: e.data.reason } : {}),
        },
      };
    }
    case 'DomainDnsRestored':
    case 'ReputationRecovered':
    case 'SendingResumed':
      return undefined;
  }
}
