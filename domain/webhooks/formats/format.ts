import { z } from 'zod';
import type { MessageFacts } from '../postal-payloads.js';
import type { WebhookEventName } from '../webhook-events.js';

/**
 * The body formats an endpoint can receive: Postal's (every endpoint's until it chooses another),
 * Postlog's own, and the webhooks of the services people move from, so their receivers keep working.
 */
export const webhookFormats = ['postal', 'postlog', 'sendgrid', 'mailgun', 'postmark', 'listmonk'] as const;
export const WebhookFormat = z.enum(webhookFormats);
export type WebhookFormat = z.infer<typeof WebhookFormat>;

/** What a formatter builds a body from: the webhook event, its Postal payload, and what it is about. */
export interface FormatInput {
  event: WebhookEventName;
  /** The Postal payload (postal-payloads.ts and the others): every format reads the event from it. */
  payload: Record<string, unknown>;
  /** The message the event is about; null for a server's or a domain's event. */
  message: MessageFacts | null;
  serverId: string;
  /** The delivery's id (Postal's "uuid"): derived from endpoint and event, the same on every retry. */
  deliveryId: string;
  /** The Postlog event's id. */
  eventId: string;
  recordedAt: Date;
}

/** A body in one format, or undefined: the format has no counterpart of this event (it is not sent). */
export type Formatter = (input: FormatInput) => string | undefined;
