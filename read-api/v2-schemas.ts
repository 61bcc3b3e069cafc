import { z } from 'zod';
import { AppliedTlsPolicy } from '../domain/index.js';

const iso = z.string();
export const DeliveryViewSchema = z.object({
  attempt: z.number(),
  outcome: z.enum(['delivered', 'deferred', 'bounced']),
  at: iso,
  mxHost: z.string().nullable(),
  remoteIp: z.string().nullable(),
  localIp: z.string().nullable(),
  tls: z.object({ protocol: z.string(), cipher: z.string() }).nullable(),
  tlsPolicy: AppliedTlsPolicy.nullable().describe(
    'the TLS policy the attempt went out under (none, opportunistic, require, mta-sts), whose it is, and what ' +
      'failed of it (RFC 8460 result types); null for attempts recorded before policies were',
  ),
  smtpCode: z.number().nullable(),
  enhancedCode: z.string().nullable(),
  smtpText: z.string().nullable(),
  durationMs: z.number(),
  detail: z.string(),
});

const IncomingViewSchema = z.object({
  routeId: z.string(),
  bounceOf: z.string().nullable().describe('a bounce kept at the return path: the outgoing message it reports'),
  mailFrom: z.string(),
  clientIp: z.string(),
  helo: z.string(),
  tls: z.boolean(),
  authentication: z
    .object({ spf: z.string(), dkim: z.string(), dmarc: z.string(), arc: z.string(), header: z.string() })
    .nullable(),
  scan: z
    .object({
      spamStatus: z.string(),
      spamScore: z.number().optional(),
      spamThreshold: z.number().optional(),
      symbols: z.array(z.object({ name: z.string(), score: z.number() })).optional(),
      virus: z.string().optional(),
      failures: z.array(z.string()).optional(),
      scanners: z
        .array(z.string())
        .optional()
        .describe('the scanners asked (absent on messages recorded before the verdict was an event of its own)'),
      at: z.string().optional().describe('when it was scanned (its IncomingScanned event)'),
    })
    .nullable(),
  endpoints: z.array(
    z.object({
      endpointId: z.string(),
      kind: z.string(),
      target: z.string(),
      status: z.enum(['pending', 'delivered', 'failed']),
      attempts: z.number(),
      lastCode: z.number().nullable(),
      lastResponse: z.string().nullable(),
      lastAttemptAt: z.string().nullable(),
    }),
  ),
});

export const MessageViewSchema = z.object({
  id: z.string(),
  direction: z.enum(['outgoing', 'incoming']),
  stream: z.string(),
  spamStatus: z.string().nullable().describe("the scanners' verdict: NotSpam, Spam or NotChecked; null: not checked"),
  spamScore: z.number().nullable(),
  incoming: IncomingViewSchema.nullable().describe(
    'for incoming messages (mail for a route): envelope, checks, endpoints',
  ),
  serverId: z.string(),
  batchId: z.string(),
  token: z.string(),
  rfcMessageId: z.string(),
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  tag: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  source: z.enum(['api', 'smtp', 'postal-import']),
  imported: z
    .object({
      system: z.literal('postal'),
      serverId: z.number(),
      messageId: z.number(),
      status: z.string(),
      opens: z.number(),
      clicks: z.number(),
      importedAt: iso,
    })
    .nullable()
    .describe("a message of Postal's history (postlog import postal --messages-days): Postal's ids, status, counts"),
  size: z.number(),
  status: z
    .string()
    .describe(
      'outgoing: accepted | held | queued | deferred | delivered | bounced | failed | cancelled; ' +
        'incoming: routing | stored | held | bounced | rejected | delivered | failed',
    ),
  heldReason: z.string().nullable(),
  scheduledAt: iso.nullable(),
  nextAttemptAt: iso.nullable(),
  attempts: z.number(),
  timestamps: z.record(z.string(), iso),
  bounce: z
    .object({
      classification: z.string(),
      diagnostic: z.string(),
      enhancedCode: z.string().nullable(),
      kind: z.enum(['sync', 'async']),
    })
    .nullable(),
  deliveries: z.array(DeliveryViewSchema),
  opens: z.array(
    z.object({ at: iso, ip: z.string().nullable(), userAgent: z.string().nullable(), machine: z.boolean() }),
  ),
  clicks: z.array(
    z.object({
      at: iso,
      url: z.string(),
      ip: z.string().nullable(),
      userAgent: z.string().nullable(),
      machine: z.boolean(),
    }),
  ),
});

export const MessageHistorySchema = z.object({
  id: z.string(),
  stream: z.string(),
  events: z.array(
    z.object({
      eventId: z.string(),
      revision: z.number(),
      position: z.number(),
      recordedAt: iso,
      type: z.string(),
      schemaVersion: z.number(),
      data: z.unknown(),
      metadata: z.record(z.string(), z.unknown()),
    }),
  ),
});
