import { z } from 'zod';

/**
 * Postmark's email and templated-email bodies (postmarkapp.com/developer/api/email-api, /templates-api), as its
 * clients send them. Unknown fields are refused rather than ignored: a field Postlog does not understand must not
 * vanish silently.
 */
const Header = z.object({ Name: z.string().min(1).max(100), Value: z.string() }).strict();

const Attachment = z
  .object({
    Name: z.string().min(1).max(255),
    Content: z.base64(),
    ContentType: z.string().min(3).max(200).default('application/octet-stream'),
    ContentID: z.string().max(255).nullish(),
    ContentLength: z.number().int().min(0).max(1_000_000_000).optional(),
  })
  .strict();

const common = {
  From: z.string().min(3).max(400),
  To: z.string().max(20_000).nullish(),
  Cc: z.string().max(20_000).nullish(),
  Bcc: z.string().max(20_000).nullish(),
  ReplyTo: z.string().max(2_000).nullish(),
  Tag: z.string().max(100).nullish(),
  TrackOpens: z.boolean().nullish(),
  TrackLinks: z.enum(['None', 'HtmlAndText', 'HtmlOnly', 'TextOnly']).nullish(),
  Headers: z.array(Header).max(100).nullish(),
  Attachments: z.array(Attachment).max(100).nullish(),
  Metadata: z
    .record(z.string().min(1).max(100), z.string().max(1000))
    .refine((m) => Object.keys(m).length <= 50, 'at most 50 metadata keys')
    .nullish(),
  MessageStream: z.string().max(100).nullish(),
};

export const PostmarkEmail = z
  .object({
    ...common,
    Subject: z.string().max(998).nullish(),
    HtmlBody: z.string().max(5_000_000).nullish(),
    TextBody: z.string().max(5_000_000).nullish(),
  })
  .strict();
export type PostmarkEmail = z.infer<typeof PostmarkEmail>;

export const PostmarkTemplatedEmail = z
  .object({
    ...common,
    TemplateId: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31)
      .nullish(),
    TemplateAlias: z.string().min(1).max(100).nullish(),
    TemplateModel: z.record(z.string(), z.unknown()).nullish(),
    InlineCss: z.boolean().nullish(),
  })
  .strict();
export type PostmarkTemplatedEmail = z.infer<typeof PostmarkTemplatedEmail>;

/** Postmark's per-request batch limit. */
export const MAX_BATCH = 500;
