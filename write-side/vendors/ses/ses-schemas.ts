import { z } from 'zod';

/**
 * SES v2 SendEmail's request body (docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html), as the AWS
 * SDK serializes it (blobs in base64). Unknown fields are refused: nothing an SES client asks for vanishes silently.
 */
const Content = z.object({ Data: z.string().max(5_000_000), Charset: z.string().max(40).optional() }).strict();
const Header = z.object({ Name: z.string().min(1).max(126), Value: z.string().max(870) }).strict();

const Attachment = z
  .object({
    RawContent: z.base64(),
    FileName: z.string().min(1).max(255),
    ContentDisposition: z.enum(['ATTACHMENT', 'INLINE']).optional(),
    ContentDescription: z.string().max(1000).optional(),
    ContentId: z.string().max(78).optional(),
    ContentTransferEncoding: z.enum(['BASE64', 'QUOTED_PRINTABLE', 'SEVEN_BIT']).optional(),
    ContentType: z.string().min(3).max(200).optional(),
  })
  .strict();

const addresses = z.array(z.string().min(3).max(400)).max(50);

export const SesSendEmail = z
  .object({
    FromEmailAddress: z.string().min(3).max(400).optional(),
    FromEmailAddressIdentityArn: z.string().optional(),
    Destination: z
      .object({
        ToAddresses: addresses.optional(),
        CcAddresses: addresses.optional(),
        BccAddresses: addresses.optional(),
      })
      .strict()
      .optional(),
    ReplyToAddresses: addresses.optional(),
    FeedbackForwardingEmailAddress: z.string().optional(),
    FeedbackForwardingEmailAddressIdentityArn: z.string().optional(),
    Content: z
      .object({
        Simple: z
          .object({
            Subject: Content,
            Body: z.object({ Text: Content.optional(), Html: Content.optional() }).strict(),
            Headers: z.array(Header).max(15).optional(),
            Attachments: z.array(Attachment).max(100).optional(),
          })
          .strict()
          .optional(),
        Raw: z.object({ Data: z.base64() }).strict().optional(),
        Template: z
          .object({
            TemplateName: z.string().min(1).max(100).optional(),
            TemplateArn: z.string().optional(),
            TemplateContent: z.unknown().optional(),
            TemplateData: z.string().max(262_144).optional(),
            Headers: z.array(Header).max(15).optional(),
            Attachments: z.array(Attachment).max(100).optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
    EmailTags: z
      .array(
        z
          .object({
            Name: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'tag names are letters, digits, _ and -'),
            Value: z.string().max(1000),
          })
          .strict(),
      )
      .max(50)
      .optional(),
    ConfigurationSetName: z.string().min(1).max(100).optional(),
    EndpointId: z.string().optional(),
    TenantName: z.string().optional(),
    ListManagementOptions: z.unknown().optional(),
    ConfigurationOverrides: z.unknown().optional(),
  })
  .strict();
export type SesSendEmail = z.infer<typeof SesSendEmail>;
