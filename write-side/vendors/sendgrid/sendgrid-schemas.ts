import { z } from 'zod';

/**
 * The body of SendGrid's v3 `POST /v3/mail/send`, as SendGrid publishes it (field names and limits
 * are SendGrid's). Every object is strict: a field Postlog does not know is refused, not ignored.
 * What the fields mean in Postlog is decided in sendgrid-mail.ts; docs/sendgrid.md lists them.
 */

export const SendGridAddress = z
  .object({
    email: z.string().min(1).max(320),
    name: z.string().max(200).nullish(),
  })
  .strict();
export type SendGridAddress = z.infer<typeof SendGridAddress>;

/** Header names and values as SendGrid takes them: strings only. */
const Headers = z.record(z.string().min(1).max(100), z.string().max(2000));
/** custom_args: strings only (SendGrid refuses other types). */
const CustomArgs = z.record(z.string().min(1).max(100), z.string().max(1000));
/** Literal replacements; SendGrid's clients send numbers as they are. */
const Substitutions = z.record(z.string().min(1).max(200), z.union([z.string().max(10_000), z.number()]));
/** SendGrid's scheduled time: a UNIX timestamp in seconds. */
const UnixSeconds = z.number().int().min(0).max(99_999_999_999);

export const SendGridPersonalization = z
  .object({
    to: z.array(SendGridAddress).min(1).max(1000),
    cc: z.array(SendGridAddress).max(1000).optional(),
    bcc: z.array(SendGridAddress).max(1000).optional(),
    from: SendGridAddress.optional(),
    subject: z.string().min(1).max(998).optional(),
    headers: Headers.optional(),
    substitutions: Substitutions.optional(),
    dynamic_template_data: z.record(z.string(), z.unknown()).optional(),
    custom_args: CustomArgs.optional(),
    send_at: UnixSeconds.optional(),
  })
  .strict();
export type SendGridPersonalization = z.infer<typeof SendGridPersonalization>;

const Enable = z.object({ enable: z.boolean().optional() }).strict();

export const SendGridMail = z
  .object({
    personalizations: z.array(SendGridPersonalization).min(1).max(1000),
    from: SendGridAddress,
    reply_to: SendGridAddress.optional(),
    reply_to_list: z.array(SendGridAddress).min(1).max(1000).optional(),
    subject: z.string().min(1).max(998).optional(),
    content: z
      .array(z.object({ type: z.string().min(1).max(200), value: z.string().min(1).max(5_000_000) }).strict())
      .min(1)
      .max(10)
      .optional(),
    attachments: z
      .array(
        z
          .object({
            content: z.string().min(1),
            filename: z.string().min(1).max(255),
            type: z.string().min(1).max(200).optional(),
            disposition: z.enum(['attachment', 'inline']).optional(),
            content_id: z.string().min(1).max(200).optional(),
          })
          .strict(),
      )
      .max(100)
      .optional(),
    template_id: z.string().min(1).max(100).optional(),
    headers: Headers.optional(),
    categories: z.array(z.string().min(1).max(255)).max(10).optional(),
    custom_args: CustomArgs.optional(),
    send_at: UnixSeconds.optional(),
    batch_id: z.string().min(1).max(100).optional(),
    asm: z
      .object({ group_id: z.number().int(), groups_to_display: z.array(z.number().int()).max(25).optional() })
      .strict()
      .optional(),
    ip_pool_name: z.string().min(2).max(64).optional(),
    sections: z.record(z.string(), z.string()).optional(),
    mail_settings: z
      .object({
        bypass_list_management: Enable.optional(),
        bypass_spam_management: Enable.optional(),
        bypass_bounce_management: Enable.optional(),
        bypass_unsubscribe_management: Enable.optional(),
        footer: Enable.extend({ text: z.string().optional(), html: z.string().optional() }).strict().optional(),
        sandbox_mode: Enable.optional(),
        bcc: Enable.extend({ email: z.string().optional() }).strict().optional(),
        spam_check: Enable.extend({
          threshold: z.number().int().optional(),
          post_to_url: z.string().optional(),
        })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    tracking_settings: z
      .object({
        click_tracking: Enable.extend({ enable_text: z.boolean().optional() }).strict().optional(),
        open_tracking: Enable.extend({ substitution_tag: z.string().optional() }).strict().optional(),
        subscription_tracking: Enable.extend({
          text: z.string().optional(),
          html: z.string().optional(),
          substitution_tag: z.string().optional(),
        })
          .strict()
          .optional(),
        ganalytics: Enable.extend({
          utm_source: z.string().optional(),
          utm_medium: z.string().optional(),
          utm_term: z.string().optional(),
          utm_content: z.string().optional(),
          utm_campaign: z.string().optional(),
        })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type SendGridMail = z.infer<typeof SendGridMail>;
