import { z } from 'zod';
import { IsoTimestamp } from '../infra/http/query-times.js';
import type { MessageSearch } from '../infra/read-models/index.js';

/**
 * The message list's filters, the same for the JSON list (GET /v2/messages) and its CSV export
 * (GET /v2/messages.csv): one schema, so the two cannot drift apart. The dashboard's search box
 * (dashboard/src/message-search.ts) turns Postal's search syntax into these parameters.
 */
export const MessageFilters = z.object({
  serverId: z.uuid().optional(),
  direction: z
    .enum(['outgoing', 'incoming'])
    .default('outgoing')
    .describe('sent messages, or mail received for routes'),
  status: z
    .enum([
      'accepted',
      'held',
      'released',
      'queued',
      'deferred',
      'delivered',
      'bounced',
      'failed',
      'cancelled',
      'routing',
      'stored',
      'rejected',
    ])
    .optional()
    .describe('outgoing: accepted … cancelled; incoming: routing, stored, held, bounced, rejected, delivered, failed'),
  spam: z
    .enum(['NotSpam', 'Spam', 'NotChecked'])
    .optional()
    .describe("the scanners' verdict (Postal's spam_status); NotChecked: a scanner looked but could not tell"),
  recipient: z.string().min(1).max(320).optional(),
  from: z
    .string()
    .min(1)
    .max(320)
    .refine((v) => v !== '@', 'names an address, or a domain after the @')
    .optional()
    .describe('the sender (envelope From): an address, or `@example.com` for every address of a domain; any case'),
  messageId: z
    .string()
    .max(998)
    .transform((v) => v.trim().replace(/^</, '').replace(/>$/, ''))
    .pipe(z.string().min(1, 'names a Message-ID'))
    .optional()
    .describe('the Message-ID header, with or without its angle brackets'),
  batch: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe("the send request's batch id: /v2's batch_id, SendGrid's X-Message-Id"),
  tag: z.string().min(1).max(100).optional(),
  since: IsoTimestamp.optional(),
  until: IsoTimestamp.optional(),
  q: z.string().min(1).max(200).optional().describe('free text in the subject'),
});
export type MessageFilters = z.infer<typeof MessageFilters>;

/** The search these filters ask for over these servers, without its page (cursor and limit). */
export function searchOf(servers: string[] | null, f: MessageFilters): Omit<MessageSearch, 'before' | 'limit'> {
  const domain = f.from?.startsWith('@') ? f.from.slice(1) : null;
  return {
    servers,
    direction: f.direction,
    spamStatus: f.spam ?? null,
    status: f.status ?? null,
    recipient: f.recipient ?? null,
    tag: f.tag ?? null,
    since: f.since ?? null,
    until: f.until ?? null,
    subjectContains: f.q ?? null,
    sender: f.from !== undefined && domain === null ? f.from : null,
    senderDomain: domain,
    rfcMessageId: f.messageId ?? null,
    batchId: f.batch ?? null,
  };
}
