import { decodeWords } from 'postal-mime';
import { z } from 'zod';
import { err, ok, type Result } from '../../domain/index.js';
import { readMessageHeader } from '../tracking/mime-entities.js';
import type { HeaderField } from './submitted-headers.js';
import { V2SendBody } from './v2-schemas.js';

/**
 * Listmonk's headers (models/common.go) name the campaign and the subscriber by UUID; they are
 * kept as metadata under these keys (the `listmonk` webhook format reads `listmonk-campaign`).
 * The headers stay in the message: Listmonk's own bounce mailbox reader looks for them.
 */
const LISTMONK_HEADERS: Record<string, string> = {
  'x-listmonk-campaign': 'listmonk-campaign',
  'x-listmonk-subscriber': 'listmonk-subscriber',
};

/** SendGrid's SMTP API header, which Mailtrain sends too: instructions to the relay, never to the recipient. */
export const SMTPAPI_HEADER = 'x-smtpapi';

/** The same limits as /v2's `metadata` and `tag`, taken from its schema so that they cannot drift apart. */
const metadataLimits = V2SendBody.shape.metadata.unwrap();
const tagLimits = V2SendBody.shape.tag.unwrap();

/**
 * What Postlog takes from X-SMTPAPI: `unique_args` (SendGrid's values may be numbers or booleans:
 * kept as their JSON text) and one `category`. Any other key (`to`, `sub`, `filters`, `send_at`…)
 * would change who gets what or how, which Postlog does not do over SMTP: refused, not ignored.
 */
const SmtpApi = z
  .object({
    unique_args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
    category: z.union([z.string(), z.array(z.string())]).optional(),
  })
  .strict();

export interface CampaignHeaders {
  metadata: Record<string, string>;
  /** X-SMTPAPI's category, the message's tag. */
  tag: string | undefined;
  /** Whether the message carries an X-SMTPAPI field, to be taken out before it is stored and sent. */
  hasSmtpApi: boolean;
}

/**
 * The metadata a campaign manager's headers carry (Listmonk's X-Listmonk-*, Mailtrain's and
 * SendGrid's X-SMTPAPI). A header that is there but cannot be kept (not JSON, a key Postlog does
 * not carry out, past /v2's limits) refuses the message with the reason, rather than losing the
 * metadata unseen: the sender's webhooks would match nothing later, and nobody would know why.
 */
export function readCampaignHeaders(headers: HeaderField[]): Result<CampaignHeaders, string> {
  const smtpApiFields = headers.filter((h) => h.key === SMTPAPI_HEADER);
  if (smtpApiFields.length > 1) return err('X-SMTPAPI: more than one X-SMTPAPI header');
  const smtpApi = smtpApiFields[0] ? readSmtpApi(text(smtpApiFields[0].value)) : ok({ metadata: {}, tag: undefined });
  if (!smtpApi.ok) return smtpApi;
  const metadata: Record<string, string> = { ...smtpApi.value.metadata };
  for (const [header, key] of Object.entries(LISTMONK_HEADERS)) {
    const field = headers.find((h) => h.key === header);
    const value = field ? text(field.value) : undefined;
    // Listmonk's own header wins over a unique_arg of the same name
    if (value) metadata[key] = value;
  }
  const limited = metadataLimits.safeParse(metadata);
  if (!limited.success) return err(`metadata: ${describe(limited.error)}`);
  return ok({ metadata, tag: smtpApi.value.tag, hasSmtpApi: smtpApiFields.length > 0 });
}

/**
 * A field's text. Some clients encode any header value with quotes or braces as RFC 2047
 * encoded-words (nodemailer 10 does: Mailtrain's X-SMTPAPI would arrive as `=?UTF-8?Q?=7B=22unique…`);
 * JSON never starts with `=?`, so only such a value is decoded.
 */
function text(value: string): string {
  return value.startsWith('=?') ? decodeWords(value) : value;
}

function readSmtpApi(value: string): Result<{ metadata: Record<string, string>; tag: string | undefined }, string> {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (e) {
    return err(`X-SMTPAPI is not valid JSON (${(e as Error).message})`);
  }
  const parsed = SmtpApi.safeParse(json);
  if (!parsed.success) return err(`X-SMTPAPI ${describe(parsed.error)}`);
  const category = parsed.data.category;
  // SendGrid takes up to 10 categories; a Postlog message has one tag, and dropping the rest would go unseen
  if (Array.isArray(category) && category.length !== 1)
    return err('X-SMTPAPI category: one category only (a message has one tag)');
  const tag = Array.isArray(category) ? category[0] : category;
  if (tag !== undefined) {
    const fits = tagLimits.safeParse(tag);
    if (!fits.success) return err(`X-SMTPAPI category: ${describe(fits.error)}`);
  }
  return ok({ metadata: parsed.data.unique_args ?? {}, tag });
}

/** The first problem zod found, with where it is (`unique_args.x: …`). */
function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

/** The message without its X-SMTPAPI field (every line of it, folded ones too). */
export function withoutSmtpApiHeader(raw: Buffer): Buffer {
  const fields = readMessageHeader(raw).filter((f) => f.name === SMTPAPI_HEADER);
  if (fields.length === 0) return raw;
  const chunks: Buffer[] = [];
  let at = 0;
  for (const f of fields) {
    chunks.push(raw.subarray(at, f.start));
    at = f.end;
  }
  chunks.push(raw.subarray(at));
  return Buffer.concat(chunks);
}
