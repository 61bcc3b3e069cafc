import type { Server } from '../../domain/index.js';
import type { TrackingContext } from '../tracking/personalize.js';
import type { SendApiDeps } from './send-deps.js';

/**
 * What personalizing a server's messages needs: its keys, tracking address and return-path domain.
 * Without an address recipients can reach (the server's tracking domain, or POSTLOG_PUBLIC_URL)
 * there is no tracking: links to a private address would only break the mail.
 */
export async function trackingContext(
  deps: SendApiDeps,
  server: Server,
  fromDomain: string,
): Promise<TrackingContext | undefined> {
  const baseUrl = server.trackingBaseUrl ?? deps.publicUrl();
  if (!baseUrl) return undefined;
  const keys = await deps.tenancy.trackingKeys(server.id);
  if (!keys) return undefined;
  const domain = await deps.tenancy.sendingDomain(server.id, fromDomain);
  return { server, keys, baseUrl, returnPathDomain: domain?.returnPathDomain ?? deps.hostname };
}
