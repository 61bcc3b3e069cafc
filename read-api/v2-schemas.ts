import { z } from 'zod';

const iso = z.string();
export const DeliveryViewSchema = z.object({
  attempt: z.number(),
  outcome: z.enum(['delivered', 'deferred', 'bounced']),
  at: iso,
  mxHost: z.string().nullable(),
  remoteIp: z.string().nullable(),
  localIp: z.string().nullable(),
  tls: z.object({ protocol: z.string(), cipher: z.string() }).nullable(),
  smtpCode: z.number().nullable(),
  enhancedCode: z.string().nullable(),
  smtpText: z.string().nullable(),
  durationMs: z.number(),
  detail: z.string(),
});

export const MessageViewSchema = z.object({
  id: z.string(),
  serverId: z.string(),
  batchId: z.string(),
  token: z.string(),
  rfcMessageId: z.string(),
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  tag: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  source: z.enum(['api', 'smtp']),
  size: z.number(),
  status: z.string().describe('accepted | held | queued | deferred | delivered | bounced | failed | cancelled'),
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
