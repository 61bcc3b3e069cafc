import { z } from 'zod';

const variables = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'variable names are letters, digits and _'),
  z.string().max(10_000),
);

export const V2Recipient = z.union([
  z.string().min(3).max(320),
  z
    .object({
      address: z.string().min(3).max(320),
      name: z.string().max(200).optional(),
      variables: variables.optional(),
    })
    .strict(),
]);

export const V2SendBody = z
  .object({
    from: z.string().min(3).max(400).describe('"Name <sender@your-verified-domain>" or a bare address'),
    to: z
      .array(V2Recipient)
      .min(1)
      .max(1000)
      .describe('each recipient gets their own message; up to 1,000 per request'),
    cc: z.array(z.string().min(3).max(320)).max(50).default([]).describe('only with a single "to" recipient'),
    bcc: z.array(z.string().min(3).max(320)).max(50).default([]).describe('only with a single "to" recipient'),
    reply_to: z.string().min(3).max(400).optional(),
    subject: z.string().max(998).optional().describe('may use {{variables}}; not with a template'),
    text: z.string().max(5_000_000).optional(),
    html: z.string().max(5_000_000).optional(),
    variables: variables.optional().describe("defaults for every recipient; a recipient's own variables win"),
    tag: z.string().min(1).max(100).optional(),
    metadata: z
      .record(z.string().min(1).max(100), z.string().max(1000))
      .refine((m) => Object.keys(m).length <= 50, 'at most 50 metadata keys')
      .optional(),
    headers: z.record(z.string().min(1).max(100), z.string()).optional(),
    attachments: z
      .array(
        z
          .object({
            filename: z.string().min(1).max(255),
            content_type: z.string().min(3).max(200).default('application/octet-stream'),
            content: z.base64().describe('base64'),
          })
          .strict(),
      )
      .max(100)
      .default([]),
    template: z
      .object({
        id: z.uuid().optional(),
        alias: z.string().min(1).max(100).optional(),
        version: z.number().int().min(1).max(1_000_000).optional().describe('default: the current version'),
        model: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .refine((t) => (t.id === undefined) !== (t.alias === undefined), { message: 'give the id or the alias' })
      .optional()
      .describe(
        "a server template (POST /v2/servers/{id}/templates) instead of subject, text and html; each recipient's " +
          'variables are added to the model',
      ),
    send_at: z.iso.datetime({ offset: true }).optional().describe('scheduled sending, up to 30 days ahead'),
    track_opens: z.boolean().optional().describe("default: the server's setting"),
    track_clicks: z.boolean().optional().describe("default: the server's setting"),
    unsubscribe: z
      .boolean()
      .optional()
      .describe("one-click unsubscribe headers (RFC 8058); default: the server's setting"),
    require_tls: z
      .boolean()
      .optional()
      .describe(
        'REQUIRETLS (RFC 8689): delivered only over TLS with a valid certificate to servers that offer ' +
          'REQUIRETLS, else bounced (5.7.30)',
      ),
  })
  .strict()
  .refine((b) => b.template !== undefined || b.text !== undefined || b.html !== undefined, {
    message: 'text or html is required',
    path: ['text'],
  })
  .refine((b) => b.template !== undefined || b.subject !== undefined, { message: 'is required', path: ['subject'] })
  .refine(
    (b) => b.template === undefined || (b.subject === undefined && b.text === undefined && b.html === undefined),
    { message: 'a template gives the subject, text and html', path: ['template'] },
  )
  .refine((b) => b.to.length === 1 || (b.cc.length === 0 && b.bcc.length === 0), {
    message: 'cc and bcc need a single "to" recipient',
    path: ['cc'],
  })
  .refine((b) => b.send_at === undefined || Date.parse(b.send_at) <= Date.now() + 30 * 86_400_000, {
    message: 'at most 30 days ahead',
    path: ['send_at'],
  });

export type V2SendBody = z.infer<typeof V2SendBody>;

export const V2SendResponse = z.object({
  batch_id: z.string(),
  messages: z.array(
    z.object({
      id: z.string(),
      to: z.string(),
      token: z.string(),
      status: z.enum(['queued', 'held']),
      held_reason: z.string().nullable(),
    }),
  ),
});

export const ErrorBody = z.object({
  code: z.string(),
  message: z.string(),
  fields: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
