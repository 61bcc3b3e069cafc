import type { Server, TrackingKeys } from '../../domain/index.js';
import { rewriteHtml } from './rewrite-html.js';
import { signClaim, unsubscribeMailbox } from './tokens.js';

export interface TrackingContext {
  server: Server;
  keys: TrackingKeys;
  /** Where the tracking endpoints are reached: the server's tracking domain or Postlog's address. */
  baseUrl: string;
  /** The sending domain's return-path domain (for the mailto: unsubscribe address). */
  returnPathDomain: string;
}

export interface TrackingChoice {
  trackOpens: boolean;
  trackClicks: boolean;
  unsubscribe: boolean;
}

/**
 * One recipient's copy: tracked links and open pixel in its HTML, and one-click unsubscribe
 * headers (RFC 8058: an HTTPS URL for the POST, and a mailto: fallback). Written before the
 * message is signed, so DKIM covers them.
 */
export function personalize(
  ctx: TrackingContext,
  messageId: string,
  html: string | undefined,
  choice: TrackingChoice,
): { html: string | undefined; headers: Record<string, string> } {
  const base = ctx.baseUrl.replace(/\/+$/, '');
  const claim = { messageId, serverId: ctx.server.id };
  const tracked =
    html === undefined || (!choice.trackOpens && !choice.trackClicks)
      ? html
      : rewriteHtml(html, {
          trackOpens: choice.trackOpens,
          trackClicks: choice.trackClicks,
          excludedDomains: ctx.server.trackingExcludedDomains,
          clickUrl: (url) => `${base}/t/c/${signClaim({ kind: 'click', ...claim, url }, ctx.keys.current)}`,
          openUrl: () => `${base}/t/o/${signClaim({ kind: 'open', ...claim }, ctx.keys.current)}`,
        });
  const headers: Record<string, string> = {};
  if (choice.unsubscribe) {
    const url = `${base}/t/u/${signClaim({ kind: 'unsubscribe', ...claim }, ctx.keys.current)}`;
    headers['List-Unsubscribe'] =
      `<${url}>, <mailto:${unsubscribeMailbox(messageId, ctx.keys.current, ctx.returnPathDomain)}?subject=unsubscribe>`;
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }
  return { html: tracked, headers };
}
