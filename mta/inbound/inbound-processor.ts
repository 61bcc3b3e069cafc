import PostalMime from 'postal-mime';
import {
  BOUNCE_SUBJECT,
  bounceMailVerdict,
  type BounceVerdict,
  deliveryReportVerdict,
  isAutoReply,
  parseFeedbackReport,
  type MessageCommandInput,
  messageStreamId,
} from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { MessageIdAllocator, SuppressionList } from '../../infra/messages/index.js';
import { handleMessageCommand, loadMessage } from '../../write-side/index.js';
import { parseMessageReference, parseVerp } from '../signing/prepare-message.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import type { RouteStore } from '../../infra/routes/index.js';
import type { ContentStore } from '../../infra/content/index.js';
import { parseUnsubscribeMailbox, verifyUnsubscribeMailbox } from '../../write-side/tracking/tokens.js';
import { unsubscribe } from '../../write-side/tracking/tracking-routes.js';
import { recordAfterDelivery } from './after-delivery.js';
import type { Envelope } from './receive-routed.js';
import { bounceMessageOf, storeBounceMail } from './store-bounce-mail.js';

export interface InboundDeps {
  eventStore: EventStore;
  suppressions: SuppressionList;
  logger: Logger;
  tenancy: TenancyStore;
  routes: RouteStore;
  contents: ContentStore;
  /** Stamps the bounces, complaints and unsubscribes recorded. */
  clock: Clock;
  /** Ids of the bounce mails kept as incoming messages. */
  messageIds: MessageIdAllocator;
}

export type InboundOutcome =
  | { kind: 'bounce'; messageId: string; classification: string }
  | { kind: 'delayed'; messageId: string }
  | { kind: 'complaint'; messageId: string }
  | { kind: 'auto-reply'; messageId: string }
  | { kind: 'unsubscribe'; messageId: string }
  | { kind: 'ignored'; reason: string };

export type Email = Awaited<ReturnType<typeof PostalMime.parse>>;

const part = (email: Email, mime: string) => email.attachments.find((a) => a.mimeType.toLowerCase() === mime);
const partText = (email: Email, mime: string) => {
  const p = part(email, mime);
  return p
    ? typeof p.content === 'string'
      ? p.content
      : Buffer.from(p.content as ArrayBuffer).toString('utf8')
    : undefined;
};

/** Our X-Postlog-MsgID in the returned original (ARF reports and many bounces include it). */
function referenceInOriginal(email: Email): { messageId: string; token: string } | undefined {
  for (const mime of ['message/rfc822', 'text/rfc822-headers', 'message/rfc822-headers']) {
    const text = partText(email, mime);
    const m = text ? /^X-Postlog-MsgID:\s*(\S+)/im.exec(text) : null;
    if (m) return parseMessageReference(m[1]!);
  }
  return undefined;
}

/**
 * What mail arriving at the return path or the feedback address means for our messages:
 * RFC 3464 DSNs and non-standard bounces (late Bounced, classified), RFC 5965 complaints
 * (Complained + suppression), auto-replies (recorded, never bounces). The message is named by
 * the VERP recipient or, failing that, by our header in the returned original; its token must
 * match, so nobody can bounce someone else's message.
 */
export async function processInbound(
  deps: InboundDeps,
  raw: Buffer,
  rcpts: string[],
  /** The message parsed already (the inbound server parses every message before it answers). */
  parsed?: Email,
  /** How it arrived: given, a bounce is kept as an incoming message of its server (store-bounce-mail.ts). */
  envelope?: Envelope,
): Promise<InboundOutcome> {
  // the mailto: half of List-Unsubscribe
  for (const rcpt of rcpts) {
    const u = parseUnsubscribeMailbox(rcpt);
    if (!u) continue;
    const [accepted] = await deps.eventStore.readStream(messageStreamId(u.messageId), { limit: 1 });
    const serverId = (accepted?.data as { serverId?: string } | undefined)?.serverId;
    const keys = serverId ? await deps.tenancy.trackingKeys(serverId) : undefined;
    if (!serverId || !keys || !verifyUnsubscribeMailbox(u, keys))
      return { kind: 'ignored', reason: 'unsubscribe address with a bad signature' };
    await unsubscribe(deps, u.messageId, serverId, 'mailto');
    return { kind: 'unsubscribe', messageId: u.messageId };
  }
  const email = parsed ?? (await PostalMime.parse(raw, { attachmentEncoding: 'utf8' }));
  const headers = new Map(email.headers.map((h) => [h.key, h.value]));
  const contentType = (headers.get('content-type') ?? '').toLowerCase();
  const subject = email.subject ?? '';
  const verp = rcpts.map(parseVerp).find((v) => v !== undefined);
  const ref = verp ?? referenceInOriginal(email);
  if (!ref) return { kind: 'ignored', reason: 'names none of our messages' };
  const loaded = await loadMessage(deps.eventStore, ref.messageId);
  const accepted = loaded.ok
    ? (await deps.eventStore.readStream(messageStreamId(ref.messageId), { limit: 1 }))[0]
    : undefined;
  const data = accepted?.data as { token?: string; serverId?: string; to?: string } | undefined;
  if (!loaded.ok || !data || data.token !== ref.token)
    return { kind: 'ignored', reason: `message ${ref.messageId} unknown or token mismatch` };
  const at = deps.clock.now().toISOString();
  // the bounce mail itself: kept as the server's incoming mail when the envelope is known
  const bounceMail = async () =>
    envelope && data.serverId
      ? storeBounceMail(deps, raw, email, envelope, {
          serverId: data.serverId,
          rcpt: rcpts.find((r) => parseVerp(r)) ?? rcpts[0]!,
          bounceOf: ref.messageId,
          at,
        })
      : bounceMessageOf(raw, email);
  const record = (command: MessageCommandInput) =>
    handleMessageCommand(deps.eventStore, ref.messageId, command, {
      serverId: data.serverId,
      actor: 'inbound',
      correlationId: `inbound-${ref.messageId}`,
    });

  if (/report-type="?feedback-report/.test(contentType)) {
    const report = parseFeedbackReport(partText(email, 'message/feedback-report') ?? '');
    const result = await recordAfterDelivery(() =>
      record({
        type: 'RecordComplaint',
        feedbackType: report.feedbackType,
        ...(report.userAgent ? { source: report.userAgent } : {}),
        at,
      }),
    );
    if (!result.ok) deps.logger.warn({ messageId: ref.messageId, error: result.error }, 'complaint not recorded');
    await deps.suppressions.add(data.serverId!, data.to!, `complaint (${report.feedbackType})`);
    return { kind: 'complaint', messageId: ref.messageId };
  }

  if (/report-type="?delivery-status/.test(contentType)) {
    const report = deliveryReportVerdict(partText(email, 'message/delivery-status') ?? '', subject);
    if (report.kind === 'delayed') return { kind: 'delayed', messageId: ref.messageId };
    if (report.kind === 'none') return { kind: 'ignored', reason: 'a delivery report without a failure' };
    const { diagnostic, verdict, remoteMta } = report;
    return bounce(deps, ref.messageId, data, record, diagnostic, verdict, bounceMail, remoteMta);
  }

  if (isAutoReply(headers, subject)) {
    const result = await record({
      type: 'RecordAutoReply',
      ...(email.from && 'address' in email.from && email.from.address ? { from: email.from.address } : {}),
      subject: subject.slice(0, 500),
      at,
    });
    if (!result.ok) deps.logger.warn({ messageId: ref.messageId, error: result.error }, 'auto-reply not recorded');
    return { kind: 'auto-reply', messageId: ref.messageId };
  }

  // a bounce without an RFC 3464 report: the rule table reads its text
  const verdict = bounceMailVerdict(subject, email.text ?? '');
  if (verdict.category === 'other' && !BOUNCE_SUBJECT.test(subject))
    return { kind: 'ignored', reason: 'neither a report, a bounce nor an auto-reply' };
  const diagnostic =
    (email.text ?? subject)
      .split(/\r?\n/)
      .find((l) => /\b[45]\d\d\b|[45]\.\d+\.\d+/.test(l))
      ?.trim() ?? subject;
  return bounce(deps, ref.messageId, data, record, diagnostic.slice(0, 1000), verdict, bounceMail);
}

async function bounce(
  deps: InboundDeps,
  messageId: string,
  data: { serverId?: string; to?: string },
  record: (c: MessageCommandInput) => ReturnType<typeof handleMessageCommand>,
  diagnostic: string,
  verdict: BounceVerdict,
  bounceMail: () => Promise<ReturnType<typeof bounceMessageOf>>,
  remoteMta?: string,
): Promise<InboundOutcome> {
  const command: MessageCommandInput = {
    type: 'RecordBounce',
    kind: 'async',
    bounceMessage: await bounceMail(),
    ...(verdict.enhancedCode ? { enhancedCode: verdict.enhancedCode } : {}),
    diagnostic: remoteMta ? `${diagnostic} (reported by ${remoteMta})` : diagnostic,
    classification: verdict.category,
    suppress: verdict.suppress,
    at: deps.clock.now().toISOString(),
  };
  const result = await recordAfterDelivery(() => record(command));
  if (!result.ok) deps.logger.warn({ messageId, error: result.error }, 'late bounce not recorded');
  if (verdict.suppress) await deps.suppressions.add(data.serverId!, data.to!, `bounce: ${diagnostic}`);
  return { kind: 'bounce', messageId, classification: verdict.category };
}
