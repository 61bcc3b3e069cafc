import { z } from 'zod';
import { createEventCodec, type EventUnion } from '../events/codec.js';

/**
 * The lifecycle of mail that arrives for a route (Postal's "incoming messages"): received, then
 * routed to endpoints, stored only, held, bounced or rejected; each endpoint's attempts follow.
 * Data only: the envelope (ids, positions, metadata) is the log's.
 */

const Timestamp = z.iso.datetime({ offset: true });

export const RouteMode = z.enum(['endpoint', 'accept', 'hold', 'bounce', 'reject']);
export type RouteMode = z.infer<typeof RouteMode>;
export const SpamMode = z.enum(['mark', 'quarantine', 'fail']);
export type SpamMode = z.infer<typeof SpamMode>;
export const EndpointKind = z.enum(['http', 'smtp', 'address']);
export type EndpointKind = z.infer<typeof EndpointKind>;

/** What the scanners said of the message (absent when none is configured). */
export const ScanResult = z.object({
  /** Postal's spam_status: NotChecked, NotSpam, Spam. */
  spamStatus: z.enum(['NotChecked', 'NotSpam', 'Spam']),
  spamScore: z.number().optional(),
  spamThreshold: z.number().optional(),
  symbols: z
    .array(z.object({ name: z.string(), score: z.number() }))
    .max(200)
    .optional(),
  virus: z.string().optional(),
  /** A scanner that did not answer (the message went on, fail-open). */
  failures: z.array(z.string()).optional(),
});
export type ScanResult = z.infer<typeof ScanResult>;

/** SPF, DKIM, DMARC and ARC as mailauth computed them on arrival, and the header given to endpoints. */
export const AuthenticationResults = z.object({
  spf: z.string(),
  dkim: z.string(),
  dmarc: z.string(),
  arc: z.string(),
  /** The Authentication-Results header value (without the name). */
  header: z.string().max(8000),
});
export type AuthenticationResults = z.infer<typeof AuthenticationResults>;

export const IncomingReceived = z.object({
  messageId: z.string().min(1),
  serverId: z.string().min(1),
  /** The route that took it; empty for a bounce of our own mail, which no route takes (bounceOf). */
  routeId: z.string(),
  /** Random 16 characters: Postal's token, handed to endpoints. */
  token: z.string().regex(/^[A-Za-z0-9]{16}$/),
  rfcMessageId: z.string(),
  /** The envelope: MAIL FROM (empty for a bounce) and the routed RCPT TO. */
  mailFrom: z.string(),
  rcptTo: z.string().min(3),
  /** From and Subject headers, for lists and search. */
  from: z.string(),
  subject: z.string(),
  /** sha256 of the raw message in the content store. */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().min(0),
  clientIp: z.string(),
  helo: z.string(),
  tls: z.boolean(),
  authentication: AuthenticationResults.optional(),
  /**
   * The scanners' verdict as events recorded before IncomingScanned carry it; new events leave it
   * out (the verdict is an IncomingScanned of its own). Readers take whichever there is: scanOf.
   */
  scan: ScanResult.optional(),
  /**
   * A bounce (DSN or a bounce read by the rule table) of this outgoing message of the server, that
   * arrived at its return path: kept as the server's incoming mail so MessageBounced can name it.
   */
  bounceOf: z.string().min(1).optional(),
  at: Timestamp,
});

/**
 * What the scanners said of the message, a fact of its own: appended with IncomingReceived, right
 * after it and before the disposition it led to. Absent when no scanner is configured.
 */
export const IncomingScanned = ScanResult.extend({
  /** The scanners asked (rspamd, spamassassin, clamav); those that gave no verdict are in `failures` too. */
  scanners: z.array(z.string().min(1)).min(1),
  at: Timestamp,
});
export type IncomingScan = z.infer<typeof IncomingScanned>;

/** The verdict of an incoming message: its IncomingScanned, or (older events) the one inside IncomingReceived. */
export const scanOf = (
  received: { scan?: ScanResult | undefined },
  scanned?: IncomingScan | undefined,
): ScanResult | IncomingScan | undefined => scanned ?? received.scan;

export const EndpointRef = z.object({ endpointId: z.string().min(1), kind: EndpointKind, target: z.string() });
export type EndpointRef = z.infer<typeof EndpointRef>;

/** Handed to these endpoints of its route (every one must take it); the body is the received one. */
export const IncomingRouted = z.object({
  routeId: z.string().min(1),
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  endpoints: z.array(EndpointRef).min(1),
  at: Timestamp,
});
/** Stored only (route mode Accept, or a route without endpoints). */
export const IncomingStored = z.object({ at: Timestamp });
export const IncomingHoldReason = z.enum(['route', 'spam', 'virus']);
export const IncomingHeld = z.object({ reason: IncomingHoldReason, detail: z.string(), at: Timestamp });
/**
 * Its route bounces it: refused at the end of DATA with a 5xx when every recipient bounced (the sender's
 * server writes the DSN), else answered 250 and Postlog returns the DSN (mta/inbound/return-bounces.ts).
 */
export const IncomingBounced = z.object({ reply: z.string(), at: Timestamp });
export const IncomingRejected = z.object({ reason: z.enum(['spam', 'virus']), reply: z.string(), at: Timestamp });
export const IncomingReleased = z.object({ at: Timestamp });

export const EndpointAttempted = z.object({
  endpointId: z.string().min(1),
  attempt: z.number().int().min(1),
  outcome: z.enum(['delivered', 'retry', 'failed']),
  /** HTTP status, or the SMTP reply code; absent when nothing answered. */
  code: z.number().int().optional(),
  response: z.string().max(1000),
  durationMs: z.number().min(0),
  /** When the next attempt is due (outcome retry). */
  retryAt: Timestamp.optional(),
  at: Timestamp,
});
/** Every endpoint took it. */
export const IncomingDelivered = z.object({ at: Timestamp });
/** An endpoint gave up for good. */
export const IncomingFailed = z.object({ endpointId: z.string(), at: Timestamp });
/** An operator hands the message to its failed (or all) endpoints again. */
export const EndpointRetryRequested = z.object({ endpointIds: z.array(z.string()).min(1), at: Timestamp });

/** Retention removed the body; the events stay. */
export const IncomingContentExpired = z.object({ retentionDays: z.number().int().min(0), at: Timestamp });

export const incomingEventCodec = createEventCodec({
  IncomingReceived: { schema: IncomingReceived, schemaVersion: 1 },
  IncomingScanned: { schema: IncomingScanned, schemaVersion: 1 },
  IncomingRouted: { schema: IncomingRouted, schemaVersion: 1 },
  IncomingStored: { schema: IncomingStored, schemaVersion: 1 },
  IncomingHeld: { schema: IncomingHeld, schemaVersion: 1 },
  IncomingBounced: { schema: IncomingBounced, schemaVersion: 1 },
  IncomingRejected: { schema: IncomingRejected, schemaVersion: 1 },
  IncomingReleased: { schema: IncomingReleased, schemaVersion: 1 },
  EndpointAttempted: { schema: EndpointAttempted, schemaVersion: 1 },
  IncomingDelivered: { schema: IncomingDelivered, schemaVersion: 1 },
  IncomingFailed: { schema: IncomingFailed, schemaVersion: 1 },
  EndpointRetryRequested: { schema: EndpointRetryRequested, schemaVersion: 1 },
  IncomingContentExpired: { schema: IncomingContentExpired, schemaVersion: 1 },
});
export type IncomingEvent = EventUnion<typeof incomingEventCodec.definitions>;
export type IncomingEventType = IncomingEvent['type'];

/** Incoming messages share the numeric id space of outgoing ones; their streams are apart. */
export const incomingStreamId = (messageId: string) => `incoming-${messageId}`;
export const INCOMING_STREAM_PREFIX = 'incoming-';
