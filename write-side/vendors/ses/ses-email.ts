import {
  mailboxHeader,
  parseMailbox,
  parseRecipient,
  type Mailbox,
  type RecipientOptions,
  type Server,
} from '../../../domain/index.js';
import { checkCustomHeaders, type ComposeAttachment } from '../../send/compose.js';
import type { SendEmailsRequest } from '../../send/send-emails.js';
import type { SesFailure } from './ses-errors.js';
import type { SesSendEmail } from './ses-schemas.js';

/** SES's limit: To, Cc and Bcc together. */
const MAX_RECIPIENTS = 50;

/** What a SendEmail asks for, in Postlog's terms: a raw message, or one email Postlog composes. */
export type SesRequest =
  | {
      kind: 'raw';
      data: Buffer;
      recipients?: Mailbox[] | undefined;
      tag?: string | undefined;
      metadata?: Record<string, string> | undefined;
    }
  | ({ kind: 'email' } & Pick<SendEmailsRequest, 'from' | 'fromHeader' | 'emails' | 'tag' | 'metadata'>);

const bad = (message: string): SesFailure => ({ type: 'BadRequestException', message });

/** Fields SES has that Postlog cannot honour: refused by name, never ignored. */
const UNSUPPORTED: [keyof SesSendEmail, string][] = [
  [
    'FromEmailAddressIdentityArn',
    'Postlog has no identity ARNs: the From domain must be a verified domain of the server',
  ],
  ['FeedbackForwardingEmailAddress', 'Postlog receives bounces itself (its return path): use webhooks to hear of them'],
  ['FeedbackForwardingEmailAddressIdentityArn', 'Postlog has no identity ARNs'],
  ['EndpointId', 'Postlog has no multi-region endpoints'],
  ['TenantName', 'Postlog has no SES tenants: each server is one'],
  ['ListManagementOptions', 'Postlog has no contact lists: use its suppression list and unsubscribe headers'],
  ['ConfigurationOverrides', 'Postlog has no configuration set overrides'],
];

/**
 * A SendEmail request as Postlog's send: Simple and Template content become one email (a server template by
 * TemplateName), Raw content the client's own message. EmailTags become metadata, ConfigurationSetName the tag.
 */
export function sesRequest(body: SesSendEmail, server: Server, options: RecipientOptions): SesRequest | SesFailure {
  for (const [field, why] of UNSUPPORTED)
    if (body[field] !== undefined) return bad(`${field} is not supported: ${why}`);
  const kinds = (['Simple', 'Raw', 'Template'] as const).filter((k) => body.Content[k] !== undefined);
  if (kinds.length !== 1) return bad('Content must have exactly one of Simple, Raw and Template');
  const metadata = body.EmailTags?.length
    ? Object.fromEntries(body.EmailTags.map((t) => [t.Name, t.Value]))
    : undefined;
  const tag = body.ConfigurationSetName;

  const lists: Record<'To' | 'Cc' | 'Bcc', Mailbox[]> = { To: [], Cc: [], Bcc: [] };
  for (const field of ['To', 'Cc', 'Bcc'] as const) {
    for (const a of body.Destination?.[`${field}Addresses`] ?? []) {
      const m = parseRecipient(a, options);
      if (!m.ok) return bad(`Destination.${field}Addresses: ${m.error}`);
      lists[field].push(m.value);
    }
  }
  const all = [...lists.To, ...lists.Cc, ...lists.Bcc];
  if (all.length > MAX_RECIPIENTS) return { type: 'MessageRejected', message: `at most ${MAX_RECIPIENTS} recipients` };
  const seen = new Set<string>();
  const recipients = all.filter((m) => !seen.has(m.address.toLowerCase()) && seen.add(m.address.toLowerCase()));

  const raw = body.Content.Raw;
  if (raw) {
    if (body.ReplyToAddresses?.length)
      return bad('ReplyToAddresses is not taken with Raw content: write Reply-To in it');
    return {
      kind: 'raw',
      data: Buffer.from(raw.Data, 'base64'),
      recipients: body.Destination ? recipients : undefined,
      tag,
      metadata,
    };
  }

  if (!body.FromEmailAddress) return bad('FromEmailAddress is required with Simple and Template content');
  const from = parseMailbox(body.FromEmailAddress);
  if (!from.ok) return bad(`FromEmailAddress: ${from.error}`);
  if (recipients.length === 0) return bad('Destination must name at least one recipient');
  for (const [i, a] of (body.ReplyToAddresses ?? []).entries()) {
    const m = parseMailbox(a);
    if (!m.ok) return bad(`ReplyToAddresses[${i}]: ${m.error}`);
  }
  const part = body.Content.Simple ?? body.Content.Template!;
  const headers: Record<string, string> = {};
  for (const h of part.Headers ?? []) headers[h.Name] = h.Value;
  const badHeader = checkCustomHeaders(headers);
  if (badHeader) return bad(`header ${badHeader.name} ${badHeader.problem}`);
  const attachments: ComposeAttachment[] = [];
  for (const a of part.Attachments ?? []) {
    if (a.ContentDescription !== undefined) return bad('Attachments: ContentDescription is not supported');
    if (a.ContentDisposition === 'INLINE' && !a.ContentId)
      return bad(`Attachments: ${a.FileName} is INLINE without a ContentId`);
    attachments.push({
      filename: a.FileName,
      contentType: a.ContentType ?? 'application/octet-stream',
      content: Buffer.from(a.RawContent, 'base64'),
      // the transfer encoding is Postlog's choice (base64 or 7bit, whichever the bytes need)
      cid: a.ContentDisposition === 'INLINE' ? a.ContentId!.replace(/^<|>$/g, '') : undefined,
    });
  }

  let content: SendEmailsRequest['emails'][number]['content'];
  if (body.Content.Simple) {
    const { Subject, Body } = body.Content.Simple;
    if (!Body.Text && !Body.Html) return bad('Content.Simple.Body needs Text or Html');
    content = { subject: Subject.Data, text: Body.Text?.Data, html: Body.Html?.Data };
  } else {
    const t = body.Content.Template!;
    if (t.TemplateArn !== undefined) return bad('TemplateArn is not supported: name the template by TemplateName');
    if (t.TemplateContent !== undefined)
      return bad('TemplateContent is not supported: create a server template and name it by TemplateName');
    if (!t.TemplateName) return bad('Content.Template.TemplateName is required');
    let model: unknown = {};
    try {
      model = t.TemplateData ? JSON.parse(t.TemplateData) : {};
    } catch {
      return bad('Content.Template.TemplateData is not JSON');
    }
    if (typeof model !== 'object' || model === null || Array.isArray(model))
      return bad('Content.Template.TemplateData must be a JSON object');
    content = { template: { alias: t.TemplateName, model: model as Record<string, unknown> } };
  }
  return {
    kind: 'email',
    from: from.value,
    fromHeader: body.FromEmailAddress,
    emails: [
      {
        to: lists.To.map(mailboxHeader),
        cc: lists.Cc.map(mailboxHeader),
        replyTo: body.ReplyToAddresses?.length ? body.ReplyToAddresses.join(', ') : undefined,
        recipients,
        content,
        headers,
        attachments,
        tracking: {
          trackOpens: server.trackOpens,
          trackClicks: server.trackClicks,
          unsubscribe: server.listUnsubscribe,
        },
        path: 'Content',
      },
    ],
    tag,
    metadata,
  };
}
