import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';

/**
 * The OpenAPI description of the Postal-compatible API (/api/v1/...). Postal answers HTTP 200 to
 * everything — bad parameters, a wrong key, a rate limit — inside its `{status, time, flags, data}`
 * envelope (postal-envelope.ts), so 200 with the envelope is each route's one truthful status.
 */
export const PostalEnvelope = z.object({
  status: z.enum(['success', 'error', 'parameter-error']),
  time: z.number().describe('seconds the request took'),
  flags: z.record(z.string(), z.unknown()),
  data: z
    .unknown()
    .describe('the answer; on error, `code` (AccessDenied, InvalidServerAPIKey, ValidationError, …) and `message`'),
});

const addresses = z.union([z.array(z.string()), z.string()]).describe('a list, or a comma-separated string');

export const PostalSendMessageParams = z
  .object({
    to: addresses.optional(),
    cc: addresses.optional(),
    bcc: addresses.optional(),
    from: z.string().optional(),
    sender: z.string().optional(),
    subject: z.string().optional(),
    tag: z.string().optional(),
    reply_to: z.string().optional(),
    plain_body: z.string().optional(),
    html_body: z.string().optional(),
    attachments: z
      .array(
        z
          .object({ name: z.string(), content_type: z.string().optional(), data: z.string().describe('base64') })
          .loose(),
      )
      .optional(),
    headers: z.record(z.string(), z.string()).optional(),
    bounce: z.boolean().optional(),
  })
  .loose();

export const PostalSendRawParams = z
  .object({
    mail_from: z.string().optional(),
    rcpt_to: z.array(z.string()).optional(),
    data: z.string().optional().describe('the whole message, base64'),
    bounce: z.boolean().optional(),
  })
  .loose();

export const PostalMessageParams = z
  .object({
    id: z.union([z.number().int(), z.string()]).optional(),
    _expansions: z
      .union([z.boolean(), z.array(z.string())])
      .optional()
      .describe(
        'true for all, or a list of: status, details, inspection, plain_body, html_body, attachments, headers, raw_message, activity_entries',
      ),
  })
  .loose();

/**
 * Postal reads its parameters itself (a JSON body, or JSON in a `params` form or query field) and
 * answers problems in its envelope: the schemas document the parameters, they must not answer 400
 * before the route does. Routes pass this as their `validatorCompiler`.
 */
export const postalValidatorCompiler: FastifySchemaCompiler<unknown> = () => (value) => ({ value });

/** A Postal route's schema for one method: GET takes `params` in the query, the others a JSON body. */
export function postalRouteSchema(method: string, summary: string, params: z.ZodType): FastifySchema {
  const input =
    method === 'GET'
      ? { querystring: z.object({ params: z.string().optional().describe('the parameters as a JSON object') }) }
      : { body: params.describe('the parameters (or, form-encoded, a `params` field holding them as JSON)') };
  return {
    tags: ['postal'],
    summary,
    security: [{ apiKey: [] }],
    ...input,
    response: { 200: PostalEnvelope },
  } as FastifySchema;
}
