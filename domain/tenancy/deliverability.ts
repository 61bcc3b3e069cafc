import { z } from 'zod';

/**
 * A server's deliverability settings (issue 25), kept apart from the server's other settings:
 * the Feedback-ID header (Gmail's feedback loop), List-Unsubscribe on mail submitted over SMTP, and
 * the server's own reputation thresholds (null: the configured ones).
 */
const Percent = z.number().min(0).max(100);
export const ServerDeliverability = z.object({
  feedbackId: z
    .object({
      /**
       * The header's value: {campaign} (the message's tag, or "none"), {server} (the server's id),
       * {mailtype}, {senderid}; Gmail reads it as campaign:customer:mailtype:senderid.
       */
      template: z
        .string()
        .min(1)
        .max(200)
        .regex(/^[\x20-\x7e]+$/, 'printable ASCII on one line')
        .default('{campaign}:{server}:{mailtype}:{senderid}'),
      mailType: z.string().min(1).max(50).default('transactional'),
      /** A stable id of the sender (Gmail's SenderId); default: the organization's id. */
      senderId: z.string().min(1).max(100).nullable().default(null),
    })
    .nullable()
    .describe('the Feedback-ID header added to every outgoing message (before DKIM signing); null: none'),
  smtpListUnsubscribe: z
    .boolean()
    .describe('add one-click List-Unsubscribe headers to mail submitted over SMTP that has none of its own'),
  reputation: z
    .object({
      complaintWarnPercent: Percent,
      complaintPausePercent: Percent,
      bounceWarnPercent: Percent,
      bouncePausePercent: Percent,
    })
    .partial()
    .nullable()
    .describe("the server's own reputation thresholds, in percent (those it leaves out: the configured ones)"),
});
export type ServerDeliverability = z.infer<typeof ServerDeliverability>;

export const DEFAULT_DELIVERABILITY: ServerDeliverability = {
  feedbackId: null,
  smtpListUnsubscribe: false,
  reputation: null,
};

/** A field of Feedback-ID: colons separate the fields, so each keeps to letters, digits, '.', '_' and '-'. */
const field = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 100) || 'none';

/** The Feedback-ID header's value for a message. Pure: the message's tag, the server and the organization are given. */
export function feedbackIdValue(
  settings: NonNullable<ServerDeliverability['feedbackId']>,
  message: { tag: string | undefined; serverId: string; organizationId: string },
): string {
  const values: Record<string, string> = {
    campaign: field(message.tag ?? 'none'),
    server: field(message.serverId),
    mailtype: field(settings.mailType),
    senderid: field(settings.senderId ?? message.organizationId),
  };
  return settings.template.replace(/\{(campaign|server|mailtype|senderid)\}/g, (_, k: string) => values[k]!);
}
