import {
  parseMailbox,
  parseRecipient,
  type Mailbox,
  type RecipientOptions,
  type Server,
} from '../../../domain/index.js';
import { checkCustomHeaders, type ComposeAttachment } from '../../send/compose.js';
import type { EmailParts, EmailToSend, TemplateChoice } from '../../send/send-emails.js';
import type { TrackingChoice } from '../../tracking/personalize.js';
import { problem, type SendGridProblem } from './sendgrid-errors.js';
import type { SendGridAddress, SendGridMail, SendGridPersonalization } from './sendgrid-schemas.js';
import { BATCH_ID_KEY, CATEGORIES_KEY } from './metadata-keys.js';
import { refusedFields } from './refused-fields.js';
import { substituteLiterally } from './substitutions.js';

/** SendGrid schedules at most 72 hours ahead. */
export const MAX_SCHEDULE_MS = 72 * 3600_000;
/** SendGrid's limit on recipients (to + cc + bcc of every personalization) in one request. */
export const MAX_RECIPIENTS = 1000;
/** SendGrid's limit on the custom_args (the message's and a personalization's together), in bytes of JSON. */
export const MAX_CUSTOM_ARGS_BYTES = 10_000;
/** Headers SendGrid keeps for itself (the rest of its list Postlog owns too: checkCustomHeaders). */
const SENDGRID_HEADERS = new Set(['x-sg-id', 'x-sg-eid']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A SendGrid request as Postlog sends it: the arguments of sendEmails, and whether it is only a test. */
export interface SendGridPlan {
  from: Mailbox;
  fromHeader: string;
  emails: EmailToSend[];
  tag: string | undefined;
  metadata: Record<string, string> | undefined;
  scheduledAt: string | undefined;
  /** mail_settings.sandbox_mode: validate, accept nothing. */
  sandbox: boolean;
  /** The template every email is rendered from (each with its personalization's model). */
  template: Omit<TemplateChoice, 'model'> | undefined;
}

/** `"Name" <address>`, or the bare address: a header value nodemailer reads back as the same mailbox. */
export function headerAddress(a: SendGridAddress): string {
  return a.name ? `"${a.name.replace(/(["\\])/g, '\\$1')}" <${a.email}>` : a.email;
}

const sameAddress = (a: SendGridAddress, b: SendGridAddress) =>
  a.email.toLowerCase() === b.email.toLowerCase() && (a.name ?? '') === (b.name ?? '');

/**
 * Reads a valid SendGrid body into what sendEmails takes: one email per personalization (its to, cc
 * and bcc share one message, as SendGrid sends it), or every problem found, SendGrid-style.
 */
export function planSendGridMail(
  body: SendGridMail,
  server: Server,
  options: RecipientOptions,
  now: Date,
): SendGridPlan | SendGridProblem[] {
  const problems: SendGridProblem[] = [...refusedFields(body, server)];
  const from = checkedAddress(body.from, 'from', problems, (s) => parseMailbox(s));
  const replyTo = replyToOf(body, problems);
  const template = templateOf(body, problems);
  const parts = partsOf(body, template !== undefined, problems);
  const attachments = attachmentsOf(body, problems);
  const tracking = trackingOf(body, server);
  const sendAt = sendAtOf(body, now, problems);

  let recipientTotal = 0;
  const emails: EmailToSend[] = [];
  for (const [i, p] of body.personalizations.entries()) {
    const path = `personalizations.${i}`;
    if (p.from && !sameAddress(p.from, body.from))
      problems.push(
        problem(
          `${path}.from`,
          'Postlog sends every personalization of a request from the one from address: send the others in a ' +
            'request of their own',
        ),
      );
    const recipients = recipientsOf(p, path, options, problems);
    recipientTotal += recipients.length;
    const headers = headersOf(body, p, path, problems);
    const metadata = customArgsOf(body, p, path, problems);
    const substitutions = substitutionsOf(p, path, template !== undefined, problems);
    if (p.dynamic_template_data && !template)
      problems.push(
        problem(
          `${path}.dynamic_template_data`,
          'dynamic_template_data is the model of a template: it needs a template_id (use substitutions otherwise)',
        ),
      );
    const content: EmailToSend['content'] = template
      ? { template: { ...template, model: p.dynamic_template_data ?? {} } }
      : substituted({ ...parts, subject: p.subject ?? parts.subject }, substitutions);
    emails.push({
      to: p.to.map(headerAddress),
      cc: (p.cc ?? []).map(headerAddress),
      replyTo: replyTo && substitutions ? substituteLiterally(replyTo, substitutions) : replyTo,
      recipients,
      content,
      headers,
      attachments,
      tracking,
      metadata,
      path,
    });
  }
  if (recipientTotal > MAX_RECIPIENTS)
    problems.push(
      problem(
        'personalizations',
        `There is a limit of ${MAX_RECIPIENTS} total recipients (to + cc + bcc) per mail/send request.`,
      ),
    );
  if (problems.length > 0 || !from) return problems;
  return {
    from,
    fromHeader: headerAddress(body.from),
    emails,
    tag: body.categories?.[0],
    metadata: requestMetadata(body),
    scheduledAt: sendAt,
    sandbox: body.mail_settings?.sandbox_mode?.enable === true,
    template,
  };
}

function checkedAddress(
  a: SendGridAddress,
  field: string,
  problems: SendGridProblem[],
  parse: (s: string) => ReturnType<typeof parseMailbox>,
): Mailbox | undefined {
  if (a.name && /[\x00-\x1f\x7f]/.test(a.name)) {
    problems.push(problem(`${field}.name`, 'The name must not contain line breaks or control characters.'));
    return undefined;
  }
  const m = parse(a.email);
  if (!m.ok) {
    problems.push(problem(`${field}.email`, 'Does not contain a valid address.'));
    return undefined;
  }
  return m.value;
}

/** reply_to, or reply_to_list as one Reply-To header of several mailboxes. */
function replyToOf(body: SendGridMail, problems: SendGridProblem[]): string | undefined {
  if (body.reply_to && body.reply_to_list) {
    problems.push(problem('reply_to_list', 'The reply_to and reply_to_list fields cannot be used together.'));
    return undefined;
  }
  const list = body.reply_to ? [body.reply_to] : (body.reply_to_list ?? []);
  const field = (j: number) => (body.reply_to ? 'reply_to' : `reply_to_list.${j}`);
  list.forEach((a, j) => checkedAddress(a, field(j), problems, (s) => parseMailbox(s)));
  return list.length > 0 ? list.map(headerAddress).join(', ') : undefined;
}

/**
 * template_id names a Postlog server template: a UUID is its id, anything else its alias. A SendGrid
 * id such as `d-9b0c…` is kept in code by giving the Postlog template that alias (docs/sendgrid.md).
 */
function templateOf(body: SendGridMail, problems: SendGridProblem[]): Omit<TemplateChoice, 'model'> | undefined {
  const id = body.template_id;
  if (id === undefined) return undefined;
  if (body.content)
    problems.push(problem('content', 'A template gives the content: send either template_id or content.'));
  const withSubject = body.personalizations.findIndex((p) => p.subject !== undefined);
  if (body.subject !== undefined || withSubject >= 0)
    problems.push(
      problem(
        body.subject !== undefined ? 'subject' : `personalizations.${withSubject}.subject`,
        'A template gives the subject: put a value the template shows in dynamic_template_data instead.',
      ),
    );
  return UUID.test(id) ? { id } : { alias: id };
}

/** The message's text and HTML (text/plain first, then text/html, each once, as SendGrid requires). */
function partsOf(body: SendGridMail, templated: boolean, problems: SendGridProblem[]): EmailParts {
  const subject = body.subject ?? '';
  if (templated) return { subject };
  if (!body.content)
    problems.push(
      problem(
        'content',
        'Unless a valid template_id is provided, the content parameter is required. There must be at least one ' +
          'defined content block.',
      ),
    );
  if (!body.subject && !body.personalizations.every((p) => p.subject))
    problems.push(
      problem(
        'subject',
        'The subject is required. You can get around this requirement if you use a template with a subject ' +
          'defined or if every personalization has a subject defined.',
      ),
    );
  const parts: EmailParts = { subject };
  for (const [j, c] of (body.content ?? []).entries()) {
    const type = c.type.toLowerCase();
    if (type !== 'text/plain' && type !== 'text/html') {
      problems.push(
        problem(
          `content.${j}.type`,
          'Postlog composes text/plain and text/html content only: send others as attachments.',
        ),
      );
    } else if (
      (type === 'text/plain' && parts.text !== undefined) ||
      (type === 'text/html' && parts.html !== undefined)
    ) {
      problems.push(problem(`content.${j}.type`, 'If present, text/plain and text/html may only be provided once.'));
    } else if (type === 'text/plain' && parts.html !== undefined) {
      problems.push(problem('content', 'The text/plain content type must be first, followed by text/html.'));
    } else if (type === 'text/plain') parts.text = c.value;
    else parts.html = c.value;
  }
  return parts;
}

function attachmentsOf(body: SendGridMail, problems: SendGridProblem[]): ComposeAttachment[] {
  return (body.attachments ?? []).map((a, j) => {
    const path = `attachments.${j}`;
    const base64 = a.content.replace(/\r?\n/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0)
      problems.push(problem(`${path}.content`, 'The attachment content must be base64 encoded.'));
    if (a.type !== undefined && /[;\r\n]/.test(a.type))
      problems.push(problem(`${path}.type`, "The attachment type cannot contain ';', or CRLF characters."));
    if (/[\r\n\0]/.test(a.filename))
      problems.push(problem(`${path}.filename`, 'The attachment filename cannot contain CRLF characters.'));
    if (a.disposition === 'inline' && !a.content_id)
      problems.push(problem(`${path}.content_id`, 'The content_id is required when the disposition is inline.'));
    if (a.disposition !== 'inline' && a.content_id)
      problems.push(
        problem(`${path}.content_id`, 'A content_id is used only with the inline disposition: set disposition inline.'),
      );
    return {
      filename: a.filename,
      contentType: a.type ?? 'application/octet-stream',
      content: Buffer.from(base64, 'base64'),
      ...(a.disposition === 'inline' ? { cid: a.content_id } : {}),
    };
  });
}

/** The tracking switches; what SendGrid leaves unsaid is the server's setting, as its account settings are. */
function trackingOf(body: SendGridMail, server: Server): TrackingChoice {
  const t = body.tracking_settings;
  return {
    trackOpens: t?.open_tracking?.enable ?? server.trackOpens,
    trackClicks: t?.click_tracking?.enable ?? server.trackClicks,
    unsubscribe: t?.subscription_tracking?.enable ?? server.listUnsubscribe,
  };
}

/**
 * The one scheduled time of the request: Postlog schedules a request as a whole, so personalizations
 * that name different times are refused (send them in requests of their own).
 */
function sendAtOf(body: SendGridMail, now: Date, problems: SendGridProblem[]): string | undefined {
  const times = new Set(body.personalizations.map((p) => p.send_at ?? body.send_at));
  if (times.size > 1) {
    problems.push(
      problem(
        'personalizations',
        'Postlog schedules a request as a whole: every personalization must have the same send_at (or none).',
      ),
    );
    return undefined;
  }
  const [seconds] = times;
  if (seconds === undefined) return undefined;
  if (seconds * 1000 > now.getTime() + MAX_SCHEDULE_MS) {
    const own = body.personalizations.findIndex((p) => p.send_at !== undefined);
    const field = own >= 0 ? `personalizations.${own}.send_at` : 'send_at';
    problems.push(problem(field, 'The send_at parameter can not be more than 72 hours in the future.'));
    return undefined;
  }
  return new Date(seconds * 1000).toISOString();
}

/** The envelope recipients of one personalization: each address once across its to, cc and bcc. */
function recipientsOf(
  p: SendGridPersonalization,
  path: string,
  options: RecipientOptions,
  problems: SendGridProblem[],
): Mailbox[] {
  const seen = new Set<string>();
  const out: Mailbox[] = [];
  for (const list of ['to', 'cc', 'bcc'] as const) {
    for (const [j, a] of (p[list] ?? []).entries()) {
      const m = checkedAddress(a, `${path}.${list}.${j}`, problems, (s) => parseRecipient(s, options));
      if (!m) continue;
      const key = m.address.toLowerCase();
      if (seen.has(key)) {
        problems.push(
          problem(
            path,
            'Each email address in the personalization block should be unique between to, cc, and bcc. We found ' +
              `the first duplicate instance of [${a.email}] in the ${path}.${list} field.`,
          ),
        );
        continue;
      }
      seen.add(key);
      out.push(m);
    }
  }
  return out;
}

/** The message's headers with the personalization's over them, checked as every send API checks them. */
function headersOf(
  body: SendGridMail,
  p: SendGridPersonalization,
  path: string,
  problems: SendGridProblem[],
): Record<string, string> {
  const headers = { ...body.headers, ...p.headers };
  for (const [name] of Object.entries(headers)) {
    if (SENDGRID_HEADERS.has(name.toLowerCase()))
      problems.push(problem(`${fieldOf(name, p, path)}.${name}`, `${name} is a reserved header.`));
  }
  const bad = checkCustomHeaders(headers);
  if (bad)
    problems.push(problem(`${fieldOf(bad.name, p, path)}.${bad.name}`, `The header ${bad.name} ${bad.problem}.`));
  return headers;
}

const fieldOf = (name: string, p: SendGridPersonalization, path: string) =>
  p.headers && name in p.headers ? `${path}.headers` : 'headers';

/** A personalization's custom_args (over the message's, which are the request's metadata). */
function customArgsOf(
  body: SendGridMail,
  p: SendGridPersonalization,
  path: string,
  problems: SendGridProblem[],
): Record<string, string> | undefined {
  const merged = { ...body.custom_args, ...p.custom_args };
  if (Buffer.byteLength(JSON.stringify(merged)) > MAX_CUSTOM_ARGS_BYTES)
    problems.push(
      problem(
        p.custom_args ? `${path}.custom_args` : 'custom_args',
        `The custom_args of a personalization and of the message together may be at most ${MAX_CUSTOM_ARGS_BYTES} bytes.`,
      ),
    );
  for (const key of Object.keys(p.custom_args ?? {}))
    if (key === CATEGORIES_KEY || key === BATCH_ID_KEY)
      problems.push(problem(`${path}.custom_args.${key}`, `${key} is where Postlog keeps the request's own field.`));
  return p.custom_args && Object.keys(p.custom_args).length > 0 ? p.custom_args : undefined;
}

function substitutionsOf(
  p: SendGridPersonalization,
  path: string,
  templated: boolean,
  problems: SendGridProblem[],
): Record<string, string> | undefined {
  if (!p.substitutions || Object.keys(p.substitutions).length === 0) return undefined;
  if (templated) {
    problems.push(
      problem(
        `${path}.substitutions`,
        'Substitutions do not apply to a template: give the values in dynamic_template_data.',
      ),
    );
    return undefined;
  }
  const values = Object.fromEntries(Object.entries(p.substitutions).map(([k, v]) => [k, String(v)]));
  if (Buffer.byteLength(JSON.stringify(values)) > 10_000)
    problems.push(
      problem(`${path}.substitutions`, 'The substitutions of a personalization may be at most 10,000 bytes.'),
    );
  return values;
}

function substituted(parts: EmailParts, substitutions: Record<string, string> | undefined): EmailParts {
  if (!substitutions) return parts;
  return {
    subject: substituteLiterally(parts.subject, substitutions),
    text: parts.text === undefined ? undefined : substituteLiterally(parts.text, substitutions),
    html: parts.html === undefined ? undefined : substituteLiterally(parts.html, substitutions),
  };
}

/** The request's metadata: its custom_args, and the fields Postlog keeps as metadata (categories, batch_id). */
function requestMetadata(body: SendGridMail): Record<string, string> | undefined {
  const metadata: Record<string, string> = {
    ...body.custom_args,
    ...(body.categories?.length ? { [CATEGORIES_KEY]: JSON.stringify(body.categories) } : {}),
    ...(body.batch_id !== undefined ? { [BATCH_ID_KEY]: body.batch_id } : {}),
  };
  return Object.keys(metadata).length > 0 ? metadata : undefined;
}
