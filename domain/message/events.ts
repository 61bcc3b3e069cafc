import { z } from 'zod';
import { createEventCodec, type EventUnion } from '../events/codec.js';
import { TlsFailureType } from '../policies/mta-sts.js';

/** The message lifecycle events. Data only: the envelope (ids, positions, metadata) is the log's. */

const Timestamp = z.iso.datetime({ offset: true });
const SmtpReply = z.object({
  code: z.number().int().min(200).max(599),
  /** RFC 3463 enhanced status code, e.g. "5.1.1". */
  enhancedCode: z
    .string()
    .regex(/^[245]\.\d{1,3}\.\d{1,3}$/)
    .optional(),
  text: z.string(),
});

/**
 * The TLS policy an attempt went out under (since issue 25; older attempts lack it): none, opportunistic,
 * require (POSTLOG_MTA_TLS or a destination's `tls`), the recipient domain's MTA-STS policy with its mode, or
 * DANE (the MX host's DNSSEC-signed TLSA records, POSTLOG_DANE).
 * `failure`: what went wrong with TLS or the policy (RFC 8460 result type), also when testing delivered anyway.
 */
export const AppliedTlsPolicy = z.object({
  policy: z.enum(['none', 'opportunistic', 'require', 'mta-sts', 'dane']),
  /** Where it came from: the MTA's default, the destination's setting, the smart host's, or the domain's DNS. */
  source: z.enum(['default', 'destination', 'smart-host', 'dns']),
  /** The domain whose policy it is (the recipient domain): TLS-RPT counts per policy domain. */
  domain: z.string(),
  mode: z.enum(['enforce', 'testing']).optional(),
  /** The MTA-STS policy's id (from the `_mta-sts` TXT record). */
  policyId: z.string().optional(),
  failure: z.object({ type: TlsFailureType, detail: z.string() }).optional(),
  /** The message asked for REQUIRETLS (RFC 8689): verified TLS to a host that offers REQUIRETLS. */
  requireTls: z.boolean().optional(),
  /** The message said `TLS-Required: No` (RFC 8689 §5): the domain's MTA-STS policy was not applied. */
  tlsOptional: z.boolean().optional(),
});
export type AppliedTlsPolicy = z.infer<typeof AppliedTlsPolicy>;

/** What one delivery attempt looked like on the wire. */
export const DeliveryAttempt = z.object({
  attempt: z.number().int().min(1),
  mxHost: z.string().optional(),
  remoteIp: z.string().optional(),
  localIp: z.string().optional(),
  tls: z.object({ protocol: z.string(), cipher: z.string() }).nullable().optional(),
  tlsPolicy: AppliedTlsPolicy.optional(),
  reply: SmtpReply.optional(),
  durationMs: z.number().min(0),
  at: Timestamp,
});
export type DeliveryAttempt = z.infer<typeof DeliveryAttempt>;

/**
 * spam: the server's outbound spam check scored the message at or above its threshold. reputation: the
 * reputation guard paused the server or its sending domain (complaint or hard-bounce rate).
 */
export const HoldReason = z.enum([
  'development_mode',
  'suppressed',
  'manual',
  'send_limit',
  'policy',
  'spam',
  'reputation',
]);
export const BounceClassification = z.enum([
  'bad-mailbox',
  'mailbox-full',
  'policy',
  'spam-block',
  'auth-failure',
  'dns',
  'routing',
  'content',
  'other',
  // sending IP or domain refused for its reputation (block lists, complaints); then throttling and greylisting
  'reputation',
  'rate-limit',
]);

/**
 * What the outbound spam check (a server's outboundSpamThreshold) said of the message at acceptance:
 * Postal's spam_status at the threshold, the score and the symbols that hit; the scanners that did
 * not answer when the message went on unchecked (fail-open). The shape of incoming mail's ScanResult.
 */
export const OutboundSpamCheck = z.object({
  spamStatus: z.enum(['NotChecked', 'NotSpam', 'Spam']),
  spamScore: z.number().optional(),
  spamThreshold: z.number().optional(),
  symbols: z
    .array(z.object({ name: z.string(), score: z.number() }))
    .max(200)
    .optional(),
  failures: z.array(z.string()).optional(),
});
export type OutboundSpamCheck = z.infer<typeof OutboundSpamCheck>;

/**
 * The outbound virus scan of a message that was accepted (a virus is refused, never accepted):
 * Clean, or NotChecked with the scanner that did not answer when it went on unscanned (fail-open).
 */
export const OutboundVirusCheck = z.object({
  virusStatus: z.enum(['NotChecked', 'Clean']),
  failures: z.array(z.string()).optional(),
});
export type OutboundVirusCheck = z.infer<typeof OutboundVirusCheck>;

export const MessageAccepted = z.object({
  messageId: z.string().min(1),
  serverId: z.string().min(1),
  batchId: z.string().min(1),
  /** RFC 5322 Message-ID header value, without angle brackets. */
  rfcMessageId: z.string().min(1),
  /** Random 16 characters: Postal's message token, and the key of tracking links. */
  token: z.string().regex(/^[A-Za-z0-9]{16}$/),
  /** Envelope sender (the From address); delivery replaces it with a VERP return path. */
  from: z.string().min(3),
  to: z.string().min(3),
  subject: z.string().default(''),
  tag: z.string().optional(),
  /** The sender's own key/values, returned with the message and in webhooks. */
  metadata: z.record(z.string(), z.string()).optional(),
  source: z.enum(['api', 'smtp']).default('api'),
  /** sha256 of the raw MIME in the content store. */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().min(0),
  scheduledAt: Timestamp.optional(),
  /** The server template and version it was rendered from (the audit trail shows what was sent). */
  template: z.object({ id: z.string(), alias: z.string(), version: z.number().int().min(1) }).optional(),
  /** Present when the server checks outgoing mail for spam. */
  spamCheck: OutboundSpamCheck.optional(),
  /** Present when outgoing mail is scanned for viruses (clamd configured, POSTLOG_OUTBOUND_VIRUS_SCAN on). */
  virusCheck: OutboundVirusCheck.optional(),
  /**
   * REQUIRETLS (RFC 8689), asked on MAIL FROM or over the API: delivered only over verified TLS to
   * hosts that offer REQUIRETLS, and passed on. Older events lack it (false).
   */
  requireTls: z.boolean().optional(),
  /** The message has `TLS-Required: No` (RFC 8689 §5): MTA-STS failures do not stop its delivery. */
  tlsOptional: z.boolean().optional(),
  at: Timestamp,
});
export const MessageHeld = z.object({ reason: HoldReason, detail: z.string().optional(), at: Timestamp });
export const MessageReleased = z.object({ by: z.string().optional(), at: Timestamp });
export const MessageQueued = z.object({ dueAt: Timestamp, at: Timestamp });
export const MessageDeferred = z.object({
  delivery: DeliveryAttempt,
  reason: z.string(),
  nextAttemptAt: Timestamp,
  at: Timestamp,
});
export const MessageDelivered = z.object({ delivery: DeliveryAttempt, at: Timestamp });
/** The bounce mail that came in (an async bounce): what Postal's MessageBounced webhook tells of it. */
export const BounceMessage = z.object({
  /** The incoming message that keeps it (since issue 23: older events, and bounces of no server, lack it). */
  id: z.string().min(1).optional(),
  /** sha256 of its bytes, hex, first 16 characters: the same mail (a repeat) has the same token. */
  token: z.string().regex(/^[0-9a-f]{16}$/),
  /** Its Message-ID header, without angle brackets. */
  rfcMessageId: z.string().optional(),
  from: z.string().optional(),
  subject: z.string().optional(),
});
export const MessageBounced = z.object({
  /** sync: the receiving server refused during our SMTP session; async: a DSN arrived later. */
  kind: z.enum(['sync', 'async']),
  /** async: the bounce mail itself (recorded since issue 23; older events lack it). */
  bounceMessage: BounceMessage.optional(),
  delivery: DeliveryAttempt.optional(),
  enhancedCode: z.string().optional(),
  diagnostic: z.string(),
  classification: BounceClassification,
  /** Whether the recipient is to be suppressed (a policy block is not the mailbox's fault). */
  suppress: z.boolean(),
  at: Timestamp,
});
export const MessageFailed = z.object({ reason: z.string(), attempts: z.number().int().min(0), at: Timestamp });
export const MessageCancelled = z.object({ by: z.string().optional(), reason: z.string().optional(), at: Timestamp });
const Hit = { ip: z.string().optional(), userAgent: z.string().optional(), machine: z.boolean(), at: Timestamp };
export const MessageOpened = z.object(Hit);
export const MessageLinkClicked = z.object({ url: z.string().min(1), ...Hit });
export const MessageUnsubscribed = z.object({
  method: z.enum(['one-click', 'link', 'mailto']),
  ip: z.string().optional(),
  at: Timestamp,
});
/** An automatic answer (out of office, RFC 3834 Auto-Submitted) came back: not a bounce. */
export const MessageAutoReplied = z.object({
  from: z.string().optional(),
  subject: z.string().optional(),
  at: Timestamp,
});
/** The raw content was deleted after the server's retention period; the history stays. */
export const MessageContentExpired = z.object({ retentionDays: z.number().int().min(0), at: Timestamp });
/**
 * Send a delivered, failed or bounced message again from its stored content (Postal #712): a new
 * series of attempts in the same history. It carries what the delivery queue holds of a message
 * (as MessageAccepted recorded it), so the queue can take the message back without reading further.
 */
export const MessageRedeliveryRequested = z.object({
  by: z.string().optional(),
  serverId: z.string().min(1),
  from: z.string().min(3),
  to: z.string().min(3),
  token: z.string().regex(/^[A-Za-z0-9]{16}$/),
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  at: Timestamp,
});
export const MessageComplained = z.object({
  feedbackType: z.string().default('abuse'),
  source: z.string().optional(),
  at: Timestamp,
});

/** A delivery attempt (or other step) as another system recorded it: Postal's deliveries table. */
export const ImportedDelivery = z.object({
  /** Postal's status: Sent, SoftFail, HardFail, Bounced, Held, HoldCancelled, Processed or Error. */
  status: z.string().min(1).max(50),
  /** The SMTP reply code, when there was one. */
  code: z.number().int().optional(),
  /** What the other server answered. */
  output: z.string().max(1000).optional(),
  /** Postal's own description of the step. */
  details: z.string().max(1000).optional(),
  tls: z.boolean(),
  durationMs: z.number().min(0).optional(),
  at: Timestamp,
});
export type ImportedDelivery = z.infer<typeof ImportedDelivery>;

/** Statuses an imported message takes: where it ended in the system it comes from (Postlog sends it no more). */
export const ImportedStatus = z.enum(['delivered', 'deferred', 'bounced', 'failed', 'held', 'cancelled']);

/**
 * A message of another system's history (`postlog import postal --messages-days`): what that
 * system knew of it, in one event that starts its stream. Postlog never delivers it, never sends
 * webhooks of it and does not count it in statistics: the history is there to be looked at.
 */
export const MessageImported = z.object({
  messageId: z.string().min(1),
  serverId: z.string().min(1),
  /** Where it comes from: Postal's server and message ids (the import's map keeps the same pair). */
  origin: z.object({ system: z.literal('postal'), serverId: z.number().int(), messageId: z.number().int() }),
  direction: z.enum(['outgoing', 'incoming']),
  from: z.string(),
  to: z.string(),
  subject: z.string().default(''),
  /** The Message-ID header value, without angle brackets. */
  rfcMessageId: z.string().optional(),
  /** Postal's message token. */
  token: z.string().max(255).optional(),
  tag: z.string().optional(),
  /** The status it had there, verbatim, and what that is in Postlog's terms. */
  originStatus: z.string().max(50),
  status: ImportedStatus,
  size: z.number().int().min(0),
  spamScore: z.number().optional(),
  deliveries: z.array(ImportedDelivery).max(100),
  /** Opens and clicks the other system counted (the hits themselves are not carried over). */
  opens: z.number().int().min(0),
  clicks: z.number().int().min(0),
  /** sha256 of the raw MIME in the content store; absent: the body was gone there or past the server's retention. */
  contentHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** When the other system took the message. */
  acceptedAt: Timestamp,
  /** When it was imported. */
  at: Timestamp,
});

export const messageEventCodec = createEventCodec({
  MessageAccepted: { schema: MessageAccepted, schemaVersion: 1 },
  MessageHeld: { schema: MessageHeld, schemaVersion: 1 },
  MessageReleased: { schema: MessageReleased, schemaVersion: 1 },
  MessageQueued: { schema: MessageQueued, schemaVersion: 1 },
  MessageDeferred: { schema: MessageDeferred, schemaVersion: 1 },
  MessageDelivered: { schema: MessageDelivered, schemaVersion: 1 },
  MessageBounced: { schema: MessageBounced, schemaVersion: 1 },
  MessageFailed: { schema: MessageFailed, schemaVersion: 1 },
  MessageCancelled: { schema: MessageCancelled, schemaVersion: 1 },
  MessageOpened: { schema: MessageOpened, schemaVersion: 1 },
  MessageLinkClicked: { schema: MessageLinkClicked, schemaVersion: 1 },
  MessageUnsubscribed: { schema: MessageUnsubscribed, schemaVersion: 1 },
  MessageComplained: { schema: MessageComplained, schemaVersion: 1 },
  MessageAutoReplied: { schema: MessageAutoReplied, schemaVersion: 1 },
  MessageContentExpired: { schema: MessageContentExpired, schemaVersion: 1 },
  MessageRedeliveryRequested: { schema: MessageRedeliveryRequested, schemaVersion: 1 },
  MessageImported: { schema: MessageImported, schemaVersion: 1 },
});

export type MessageEvent = EventUnion<typeof messageEventCodec.definitions>;
export type MessageEventType = MessageEvent['type'];
export type EventOf<T extends MessageEventType> = Extract<MessageEvent, { type: T }>;

export const messageStreamId = (messageId: string) => `message-${messageId}`;
