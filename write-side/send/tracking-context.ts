import type { Server } from '../../domain/index.js';
import type { TrackingContext } from '../tracking/personalize.js';
import type { SendApiDeps } from './send-deps.js';

/**
 * What personalizing a server's messages needs: its keys, tracking address and return-path domain.
 * The address is the From domain's verified track domain, else the server's tracking base URL,
 * else POSTLOG_PUBLIC_URL. Without an address recipients can reach there is no tracking: links to
 * a private address would only break the mail.
 */
export async function trackingContext(
  deps: SendApiDeps,
  server: Server,
  fromDomain: string,
): Promise<TrackingContext | undefined> {
  const domain = await deps.tenancy.sendingDomain(server.id, fromDomain);
  const baseUrl = domain?.trackingBaseUrl ?? server.trackingBaseUrl ?? deps.publicUrl();
  if (!baseUrl) return undefined;
  const keys = await deps.tenancy.trackingKeys(server.id);
  if (!keys) return undefined;
  return { server, keys, baseUrl, returnPathDomain: domain?.returnPathDomain ?? deps.hostname };
}
