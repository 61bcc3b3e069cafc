import type { Server } from '../../domain/index.js';
import { takeTrackingOptOut } from '../tracking/opt-out-header.js';
import { personalizeRaw } from '../tracking/personalize.js';
import { planHtmlRewrite } from '../tracking/rewrite-mime.js';
import { hasField, listUnsubscribeLines, withHeaderLines } from './deliverability-headers.js';
import type { SendApiDeps } from './send-deps.js';
import { trackingContext } from './tracking-context.js';

/** All tracked copies of one message together, in multiples of the largest message accepted. */
export const TRACKED_COPIES_BUDGET = 2;

/** What the accept path stores for a message a client composed itself: one copy, or one per recipient. */
export interface RawContents {
  contents: Buffer[];
  /** Set when each recipient has a copy of its own (contents[i] is recipient i's): the ids its links name. */
  messageIds?: number[];
}

/**
 * The bytes to accept for a raw message (SMTP submission, send/raw), after its bytes were made
 * canonical and its header read: the opt-out field (X-Postlog-Track, Postal's X-AMP: skip) taken
 * out, and, when the server tracks opens or clicks and the message has HTML to track, a copy per
 * recipient whose links and pixel name that recipient's message, as the JSON APIs make them.
 */
export async function rawContents(
  deps: SendApiDeps,
  server: Server,
  fromDomain: string,
  raw: Buffer,
  recipients: number,
  /** One-click List-Unsubscribe in each copy that has none of its own (SMTP submission, a server's smtpListUnsubscribe). */
  options: { listUnsubscribe?: boolean } = {},
): Promise<RawContents> {
  const optOut = takeTrackingOptOut(raw);
  const choice = { trackOpens: server.trackOpens, trackClicks: server.trackClicks };
  const shared = { contents: [optOut.raw] };
  const unsubscribe = options.listUnsubscribe === true && !hasField(optOut.raw, 'list-unsubscribe');
  const tracked = !optOut.optedOut && (choice.trackOpens || choice.trackClicks);
  if ((!tracked && !unsubscribe) || recipients === 0) return shared;
  // The copies are held in memory together until they are stored: all of them at most twice the
  // largest message a client may send. Past that (a large message to many recipients) the message
  // goes out untracked, as one shared copy, rather than a 25 MB message taking 2.5 GB for 100 copies.
  if (optOut.raw.length * recipients > TRACKED_COPIES_BUDGET * deps.maxMessageBytes) return shared;
  // cached look-ups first (the accept path asks for the same domain next): no address, no parse
  const tracking = await trackingContext(deps, server, fromDomain);
  if (!tracking) return shared;
  const message = tracked ? planHtmlRewrite(optOut.raw) : undefined;
  if (!unsubscribe && (!message || message.parts.length === 0)) return shared;
  const messageIds = await deps.ids.take(recipients);
  const contents = messageIds.map((id) => {
    const copy =
      message && message.parts.length > 0 ? personalizeRaw(tracking, String(id), message, choice).raw : optOut.raw;
    const own = unsubscribe ? withHeaderLines(copy, listUnsubscribeLines(tracking, String(id))) : copy;
    // the client's message fitted the limit; the links alone must not make it refused, so such a copy goes untracked
    return own.length > deps.maxMessageBytes ? optOut.raw : own;
  });
  return { contents, messageIds };
}
