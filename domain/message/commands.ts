import { z } from 'zod';
import {
  BounceClassification,
  BounceMessage,
  DeliveryAttempt,
  HoldReason,
  MessageAccepted,
  MessageImported,
} from './events.js';

/** Commands carry their own time (`at`): the domain never reads a clock. */
const at = z.iso.datetime({ offset: true });

export const MessageCommand = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('Accept'),
    message: MessageAccepted.omit({ at: true }),
    hold: z.object({ reason: HoldReason, detail: z.string().optional() }).optional(),
    at,
  }),
  z.object({ type: z.literal('Hold'), reason: HoldReason, detail: z.string().optional(), at }),
  /** operator: a global admin (only one may lift holds the operator's controls put on). */
  z.object({ type: z.literal('Release'), by: z.string().optional(), operator: z.boolean().default(false), at }),
  /** Put into the delivery queue; also "retry now" for a deferred message. */
  z.object({ type: z.literal('Queue'), dueAt: at, at }),
  z.object({ type: z.literal('RecordDeferral'), delivery: DeliveryAttempt, reason: z.string(), nextAttemptAt: at, at }),
  z.object({ type: z.literal('RecordDelivery'), delivery: DeliveryAttempt, at }),
  z.object({
    type: z.literal('RecordBounce'),
    kind: z.enum(['sync', 'async']),
    bounceMessage: BounceMessage.optional(),
    delivery: DeliveryAttempt.optional(),
    enhancedCode: z.string().optional(),
    diagnostic: z.string(),
    classification: BounceClassification,
    suppress: z.boolean(),
    at,
  }),
  z.object({ type: z.literal('RecordFailure'), reason: z.string(), at }),
  z.object({ type: z.literal('Cancel'), by: z.string().optional(), reason: z.string().optional(), at }),
  z.object({
    type: z.literal('RecordOpen'),
    ip: z.string().optional(),
    userAgent: z.string().optional(),
    machine: z.boolean(),
    at,
  }),
  z.object({
    type: z.literal('RecordClick'),
    url: z.string().min(1),
    ip: z.string().optional(),
    userAgent: z.string().optional(),
    machine: z.boolean(),
    at,
  }),
  z.object({
    type: z.literal('RecordUnsubscribe'),
    method: z.enum(['one-click', 'link', 'mailto']),
    ip: z.string().optional(),
    at,
  }),
  z.object({
    type: z.literal('RecordComplaint'),
    feedbackType: z.string().default('abuse'),
    source: z.string().optional(),
    at,
  }),
  z.object({ type: z.literal('ExpireContent'), retentionDays: z.number().int().min(0), at }),
  z.object({ type: z.literal('RecordAutoReply'), from: z.string().optional(), subject: z.string().optional(), at }),
  /** Send a delivered, failed or bounced message again, from its stored content. */
  z.object({ type: z.literal('Redeliver'), by: z.string().optional(), at }),
  /** Record a message of another system's history (Postal's), as it was there; nothing is sent. */
  z.object({ type: z.literal('Import'), message: MessageImported.omit({ at: true }), at }),
]);
export type MessageCommand = z.infer<typeof MessageCommand>;
export type MessageCommandInput = z.input<typeof MessageCommand>;
