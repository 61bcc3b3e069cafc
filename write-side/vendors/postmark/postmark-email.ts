import {
  mailboxHeader,
  parseMailbox,
  parseRecipientList,
  type Mailbox,
  type RecipientOptions,
  type Server,
} from '../../../domain/index.js';
import { checkCustomHeaders } from '../../send/compose.js';
import type { EmailToSend, SendEmailsRequest } from '../../send/send-emails.js';
import type { PostmarkFailure } from './postmark-errors.js';
import type { PostmarkEmail, PostmarkTemplatedEmail } from './postmark-schemas.js';

/** Postmark's limit: To, Cc and Bcc together. */
const MAX_RECIPIENTS = 50;

export type PostmarkRequest = Pick<SendEmailsRequest, 'from' | 'fromHeader' | 'emails' | 'tag' | 'metadata'>;

const invalid = (message: string): PostmarkFailure => ({ error: 'InvalidEmailRequest', message });

/**
 * A Postmark email (plain or templated) as Postlog's one email with its envelope recipients. Every field maps onto
 * Postlog's or is refused with Postmark's error; nothing is dropped.
 */
export function postmarkEmail(
  body: { templated: false; email: PostmarkEmail } | { templated: true; email: PostmarkTemplatedEmail },
  server: Server,
  options: RecipientOptions,
): PostmarkRequest | PostmarkFailure {
  const from = parseMailbox(body.email.From);
  if (!from.ok) return invalid(`Invalid 'From' address: ${from.error}.`);
  const lists: Record<'To' | 'Cc' | 'Bcc', Mailbox[]> = { To: [], Cc: [], Bcc: [] };
  for (const field of ['To', 'Cc', 'Bcc'] as const) {
    const value = body.email[field];
    if (!value) continue;
    const parsed = parseRecipientList(value, options);
    if (!parsed.ok) return invalid(`Invalid '${field}' address: ${parsed.error}.`);
    lists[field] = parsed.value;
  }
  const all = [...lists.To, ...lists.Cc, ...lists.Bcc];
  if (all.length === 0) return invalid('Zero recipients specified.');
  if (all.length > MAX_RECIPIENTS)
    return invalid(`Maximum of ${MAX_RECIPIENTS} recipients allowed per email message (To, Cc and Bcc together).`);
  const seen = new Set<string>();
  const recipients = all.filter((m) => !seen.has(m.address.toLowerCase()) && seen.add(m.address.toLowerCase()));
  const e = body.email;
  if (e.ReplyTo) {
    const replyTo = parseRecipientList(e.ReplyTo, options);
    if (!replyTo.ok) return invalid(`Invalid 'ReplyTo' address: ${replyTo.error}.`);
  }

  const headers: Record<string, string> = {};
  for (const h of e.Headers ?? []) headers[h.Name] = h.Value;
  const badHeader = checkCustomHeaders(headers);
  if (badHeader) return invalid(`Header '${badHeader.name}' ${badHeader.problem}.`);

  if (e.TrackLinks === 'TextOnly')
    return invalid("TrackLinks 'TextOnly' is not supported: Postlog tracks the links of the HTML body only.");
  const stream = e.MessageStream ?? 'outbound';
  if (stream !== 'outbound' && stream !== 'broadcast')
    return {
      error: 'MessageStreamNotFound',
      message: `The message stream '${stream}' was not found: Postlog has 'outbound' and 'broadcast'.`,
    };

  const content = contentOf(body);
  if ('error' in content) return content;
  const email: EmailToSend = {
    to: lists.To.map(mailboxHeader),
    cc: lists.Cc.map(mailboxHeader),
    replyTo: e.ReplyTo ?? undefined,
    recipients,
    content,
    headers,
    attachments: (e.Attachments ?? []).map((a) => ({
      filename: a.Name,
      contentType: a.ContentType,
      content: Buffer.from(a.Content, 'base64'),
      cid: a.ContentID ? a.ContentID.replace(/^cid:/i, '') : undefined,
    })),
    tracking: {
      trackOpens: e.TrackOpens ?? server.trackOpens,
      trackClicks: e.TrackLinks ? e.TrackLinks !== 'None' : server.trackClicks,
      // Postmark's broadcast stream always carries an unsubscribe link
      unsubscribe: stream === 'broadcast' || server.listUnsubscribe,
    },
    path: 'message',
  };
  return {
    from: from.value,
    fromHeader: e.From,
    emails: [email],
    tag: e.Tag || undefined,
    metadata: e.Metadata ?? undefined,
  };
}

function contentOf(
  body: { templated: false; email: PostmarkEmail } | { templated: true; email: PostmarkTemplatedEmail },
): EmailToSend['content'] | PostmarkFailure {
  if (body.templated) {
    const t = body.email;
    if (t.InlineCss)
      return invalid('InlineCss is not supported: Postlog sends the template as written (set InlineCss to false).');
    if ((t.TemplateId ?? undefined) === undefined && !t.TemplateAlias)
      return invalid('Provide either a TemplateId or a TemplateAlias.');
    // Postlog templates have a uuid and an alias: a numeric TemplateId is looked up as the alias of that number
    const alias = t.TemplateAlias ?? String(t.TemplateId);
    return { template: { alias, model: t.TemplateModel ?? {} } };
  }
  const b = body.email;
  if (!b.TextBody && !b.HtmlBody) return invalid('Provide either email TextBody or HtmlBody or both.');
  return { subject: b.Subject ?? '', text: b.TextBody || undefined, html: b.HtmlBody || undefined };
}
