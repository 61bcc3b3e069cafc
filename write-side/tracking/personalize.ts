import type { Server, TrackingKeys } from '../../domain/index.js';
import { rewriteHtml, type RewriteOptions } from './rewrite-html.js';
import { applyHtmlRewrite, type HtmlRewritePlan, type RewrittenMessage } from './rewrite-mime.js';
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
  const options = rewriteOptions(ctx, messageId, choice);
  const tracked = html === undefined || !options ? html : rewriteHtml(html, options);
  return { html: tracked, headers: choice.unsubscribe ? unsubscribeHeaders(ctx, messageId) : {} };
}

/**
 * The one-click unsubscribe headers of one recipient's copy (RFC 8058): an HTTPS URL for the POST,
 * and a mailto: fallback. The API's composed mail and SMTP-submitted mail (a server's
 * smtpListUnsubscribe) carry the same ones.
 */
export function unsubscribeHeaders(ctx: TrackingContext, messageId: string): Record<string, string> {
  const base = ctx.baseUrl.replace(/\/+$/, '');
  const claim = { messageId, serverId: ctx.server.id };
  const url = `${base}/t/u/${signClaim({ kind: 'unsubscribe', ...claim }, ctx.keys.current)}`;
  return {
    'List-Unsubscribe': `<${url}>, <mailto:${unsubscribeMailbox(messageId, ctx.keys.current, ctx.returnPathDomain)}?subject=unsubscribe>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
}

/**
 * One recipient's copy of a message the client composed itself (SMTP, send/raw): the same links
 * and pixel as personalize() writes, in every HTML part of the MIME tree (rewrite-mime.ts, read once for
 * all recipients), before
 * the copy is stored and signed. Unsubscribe headers are not added to such messages.
 */
export function personalizeRaw(
  ctx: TrackingContext,
  messageId: string,
  message: HtmlRewritePlan,
  choice: Omit<TrackingChoice, 'unsubscribe'>,
): RewrittenMessage {
  const options = rewriteOptions(ctx, messageId, { ...choice, unsubscribe: false });
  if (!options) return { raw: message.raw, rewritten: 0 };
  // the HTML comes one character per byte: the URL is read in the part's charset before it is signed
  return applyHtmlRewrite(message, (html, decode) =>
    rewriteHtml(html, { ...options, clickUrl: (url) => options.clickUrl(decode(url)) }),
  );
}

/** How a recipient's HTML is tracked: its click and open URLs carry its own message id. */
function rewriteOptions(ctx: TrackingContext, messageId: string, choice: TrackingChoice): RewriteOptions | undefined {
  if (!choice.trackOpens && !choice.trackClicks) return undefined;
  const base = ctx.baseUrl.replace(/\/+$/, '');
  const claim = { messageId, serverId: ctx.server.id };
  return {
    trackOpens: choice.trackOpens,
    trackClicks: choice.trackClicks,
    excludedDomains: ctx.server.trackingExcludedDomains,
    clickUrl: (url) => `${base}/t/c/${signClaim({ kind: 'click', ...claim, url }, ctx.keys.current)}`,
    openUrl: () => `${base}/t/o/${signClaim({ kind: 'open', ...claim }, ctx.keys.current)}`,
  };
}
