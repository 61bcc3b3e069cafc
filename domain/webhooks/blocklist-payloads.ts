import type { BlocklistEvent } from '../deliverability/index.js';
import { serverHash, type ServerFacts } from './tenancy-payloads.js';
import type { WebhookEventName } from './webhook-events.js';

/**
 * The webhook of a blocklist change, for one server that sends from the IP or domain (each such
 * server's endpoints hear of it): the event's name is the webhook's, in the style of DomainDNSError.
 */
export function blocklistWebhookPayload(
  e: BlocklistEvent,
  server: ServerFacts,
): { event: WebhookEventName; payload: Record<string, unknown> } {
  return {
    event: e.type,
    payload: {
      server: serverHash(server),
      kind: e.data.kind,
      target: e.data.target,
      zone: e.data.zone,
      listed: e.type.endsWith('Listed'),
      codes: e.data.codes,
      reason: e.data.reason,
      timestamp: new Date(e.data.at).getTime() / 1000,
    },
  };
}
