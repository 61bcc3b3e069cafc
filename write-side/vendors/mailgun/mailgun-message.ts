import { z } from 'zod';
import {
  parseMailbox,
  parseRecipient,
  type Mailbox,
  type RecipientOptions,
  type Server,
} from '../../../domain/index.js';
import { checkCustomHeaders, type ComposeAttachment } from '../../send/compose.js';
import type { EmailParts, EmailToSend } from '../../send/send-emails.js';
import type { TrackingChoice } from '../../tracking/personalize.js';
import { addressEntries } from './mailgun-addresses.js';
import { badParameter, type MailgunFailure } from './mailgun-errors.js';
import { isFailure, single, type MailgunForm } from './mailgun-form.js';
import { REFUSED_OPTIONS, readOptions } from './mailgun-options.js';
import {
  fillRecipientVariables,
  parseRecipientVariables,
  variablesOf,
  type RecipientVariables,
} from './recipient-variables.js';

/** Mailgun's limit of recipients (to, cc and bcc together) per request. */
export const MAX_RECIPIENTS = 1000;
const MAX_METADATA_KEYS = 50;

/** The fields /messages reads (besides `h:*` and `v:*`); any other is refused, never ignored. */
const FIELDS = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'subject',
  'text',
  'html',
  'template',
  't:version',
  't:variables',
  'recipient-variables',
  'o:tag',
  'o:deliverytime',
  'o:testmode',
  'o:tracking',
  'o:tracking-clicks',
  'o:tracking-opens',
  ...Object.keys(REFUSED_OPTIONS),
]);

const JsonObject = z.record(z.string(), z.unknown());
const MetadataKey = z.string().min(1).max(100);
const MetadataValue = z.string().max(1000);

/** A Mailgun send as Postlog's send path takes it. */
export interface MailgunSend {
  testMode: boolean;
  from: Mailbox;
  fromHeader: string;
  emails: EmailToSend[];
  tag?: string | undefined;
  metadata?: Record<string, string> | undefined;
  scheduledAt?: string | undefined;
}

/**
 * Reads POST /v3/{domain}/messages: addresses, content or template, headers, files, user variables and
 * options. Without `recipient-variables` it is one email to every address (all of them in its To and Cc);
 * with them, each `to` address gets an email of its own with its `%recipient.name%` values filled in.
 */
export function planMailgunSend(
  form: MailgunForm,
  ctx: { server: Server; recipients: RecipientOptions; now: Date },
): MailgunSend | MailgunFailure {
  for (const name of form.fields.keys())
    if (!FIELDS.has(name) && !name.startsWith('h:') && !name.startsWith('v:'))
      return badParameter(`${name} parameter is not a Mailgun parameter that Postlog knows`);
  for (const file of form.files)
    if (file.field !== 'attachment' && file.field !== 'inline')
      return badParameter(`${file.field} parameter: files are sent as attachment or inline`);
  const options = readOptions(form, ctx.now);
  if (isFailure(options)) return options;

  const fromHeader = single(form, 'from');
  if (isFailure(fromHeader)) return fromHeader;
  if (fromHeader === undefined || fromHeader.trim() === '') return badParameter('from parameter is missing');
  const from = parseMailbox(fromHeader);
  if (!from.ok)
    return badParameter(`from parameter is not a valid address. please check documentation (${from.error})`);

  const addresses = readAddresses(form, ctx.recipients);
  if (isFailure(addresses)) return addresses;
  const content = readContent(form);
  if (isFailure(content)) return content;
  const headers = readHeaders(form);
  if (isFailure(headers)) return headers;
  const userVariables = readUserVariables(form, headers.mailgunVariables);
  if (isFailure(userVariables)) return userVariables;

  // user variables are the template's too (as in Mailgun); t:variables win
  if (content.template)
    content.template.model = { ...userVariables, ...headers.mailgunVariables, ...content.template.model };

  const batchJson = single(form, 'recipient-variables');
  if (isFailure(batchJson)) return batchJson;
  const batch = batchJson === undefined ? undefined : parseRecipientVariables(batchJson);
  if (isFailure(batch)) return batch;
  if (batch && (addresses.cc.length > 0 || addresses.bcc.length > 0))
    return badParameter(
      'cc and bcc parameters cannot be used with recipient-variables in Postlog: each to recipient gets an email of its own',
    );

  const tracking: TrackingChoice = {
    trackOpens: options.trackOpens ?? ctx.server.trackOpens,
    trackClicks: options.trackClicks ?? ctx.server.trackClicks,
    unsubscribe: ctx.server.listUnsubscribe,
  };
  const attachments: ComposeAttachment[] = form.files.map((f) => ({
    filename: f.filename,
    contentType: f.contentType,
    content: f.content,
    // Mailgun's inline files are referred to by their file name: <img src="cid:logo.png">
    ...(f.field === 'inline' ? { cid: f.filename } : {}),
  }));
  const common = { headers: headers.custom, replyTo: headers.replyTo, attachments, tracking };
  const tagList: Record<string, string> = options.tags.length > 1 ? { 'o:tag': JSON.stringify(options.tags) } : {};
  const emails: EmailToSend[] = [];
  if (!batch) {
    const metadata = { ...userVariables, ...tagList };
    emails.push({
      ...common,
      to: addresses.to.map((a) => a.written),
      cc: addresses.cc.map((a) => a.written),
      recipients: unique([...addresses.to, ...addresses.cc, ...addresses.bcc]).map((a) => a.mailbox),
      content: content.template ? { template: content.template } : content.parts,
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
      path: 'to',
    });
  } else {
    for (const [i, to] of unique(addresses.to).entries()) {
      const personal = personalEmail(content, userVariables, batch, to, `to[${i}]`);
      if (isFailure(personal)) return personal;
      const metadata = { ...personal.metadata, ...tagList };
      emails.push({
        ...common,
        to: [to.written],
        cc: [],
        recipients: [to.mailbox],
        content: personal.content,
        ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
        path: `to[${i}]`,
      });
    }
  }
  return {
    testMode: options.testMode,
    from: from.value,
    fromHeader,
    emails,
    tag: options.tags[0],
    scheduledAt: options.scheduledAt,
  };
}

interface Address {
  mailbox: Mailbox;
  written: string;
}

function readAddresses(
  form: MailgunForm,
  options: RecipientOptions,
): { to: Address[]; cc: Address[]; bcc: Address[] } | MailgunFailure {
  const out: Record<'to' | 'cc' | 'bcc', Address[]> = { to: [], cc: [], bcc: [] };
  for (const field of ['to', 'cc', 'bcc'] as const) {
    for (const written of addressEntries(form.fields.get(field) ?? [])) {
      const m = parseRecipient(written, options);
      if (!m.ok)
        return badParameter(`${field} parameter is not a valid address. please check documentation (${m.error})`);
      out[field].push({ mailbox: m.value, written });
    }
  }
  if (out.to.length === 0) return badParameter('to parameter is missing');
  const total = out.to.length + out.cc.length + out.bcc.length;
  if (total > MAX_RECIPIENTS)
    return badParameter(`too many recipients: ${total}; at most ${MAX_RECIPIENTS} (to, cc and bcc together)`);
  return out;
}

/** Each address once (Mailgun ignores duplicates), the first spelling kept. */
function unique(list: Address[]): Address[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const key = a.mailbox.address.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

interface Content {
  parts: EmailParts;
  template?: { alias: string; version?: number | undefined; model: Record<string, unknown> } | undefined;
}

function readContent(form: MailgunForm): Content | MailgunFailure {
  const values: Record<string, string | undefined> = {};
  for (const name of ['subject', 'text', 'html', 'template', 't:version', 't:variables']) {
    const v = single(form, name);
    if (isFailure(v)) return v;
    values[name] = v;
  }
  const { subject, text, html, template } = values;
  if (template === undefined) {
    if (values['t:version'] !== undefined || values['t:variables'] !== undefined)
      return badParameter('t:version and t:variables parameters need the template parameter');
    if (text === undefined && html === undefined)
      return badParameter("Need at least one of 'text', 'html' or 'template' parameters specified");
    if (subject === undefined) return badParameter('subject parameter is missing');
    return { parts: { subject, text, html } };
  }
  if (subject !== undefined || text !== undefined || html !== undefined)
    return badParameter(
      'subject, text and html parameters cannot be given with a template in Postlog: the template gives all three',
    );
  let version: number | undefined;
  if (values['t:version'] !== undefined) {
    if (!/^[1-9]\d{0,6}$/.test(values['t:version']))
      return badParameter('t:version parameter must be a Postlog template version number (1, 2, …)');
    version = Number(values['t:version']);
  }
  let model: Record<string, unknown> = {};
  if (values['t:variables'] !== undefined) {
    const parsed = parseJsonObject(values['t:variables']);
    if (!parsed) return badParameter('t:variables parameter must be a JSON object');
    model = parsed;
  }
  return { parts: { subject: '' }, template: { alias: template, version, model } };
}

function parseJsonObject(json: string): Record<string, unknown> | undefined {
  try {
    const parsed = JsonObject.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

interface Headers {
  custom: Record<string, string>;
  replyTo?: string | undefined;
  mailgunVariables?: Record<string, unknown> | undefined;
}

/** `h:*` fields: Reply-To is the message's own, X-Mailgun-Variables are user variables, the rest custom headers. */
function readHeaders(form: MailgunForm): Headers | MailgunFailure {
  const out: Headers = { custom: {} };
  for (const [field, values] of form.fields) {
    if (!field.startsWith('h:')) continue;
    const value = single(form, field);
    if (isFailure(value) || value === undefined) return value ?? badParameter(`${field} parameter is empty`);
    const name = field.slice(2);
    if (name.toLowerCase() === 'reply-to') {
      const replyTo = parseMailbox(value);
      if (!replyTo.ok) return badParameter(`h:Reply-To parameter is not a valid address (${replyTo.error})`);
      out.replyTo = value;
    } else if (name.toLowerCase() === 'x-mailgun-variables') {
      const vars = parseJsonObject(value);
      if (!vars) return badParameter('h:X-Mailgun-Variables parameter must be a JSON object');
      out.mailgunVariables = vars;
    } else {
      out.custom[name] = values[0]!;
    }
  }
  const bad = checkCustomHeaders(out.custom);
  if (bad) return badParameter(`h:${bad.name} parameter ${bad.problem}`);
  return out;
}

/** `v:*` fields and X-Mailgun-Variables: the message's metadata (values that are not strings as JSON). */
export function readUserVariables(
  form: MailgunForm,
  mailgunVariables: Record<string, unknown> | undefined,
): Record<string, string> | MailgunFailure {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(mailgunVariables ?? {})) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  for (const field of form.fields.keys()) {
    if (!field.startsWith('v:')) continue;
    const value = single(form, field);
    if (isFailure(value)) return value;
    out[field.slice(2)] = value ?? '';
  }
  if (Object.keys(out).length > MAX_METADATA_KEYS)
    return badParameter(`too many user variables: at most ${MAX_METADATA_KEYS} (v:* and X-Mailgun-Variables)`);
  for (const [k, v] of Object.entries(out)) {
    if (!MetadataKey.safeParse(k).success) return badParameter(`v:${k} parameter: names are 1 to 100 characters`);
    if (!MetadataValue.safeParse(v).success) return badParameter(`v:${k} parameter is longer than 1,000 characters`);
  }
  return out;
}

/** One batch recipient's email: `%recipient.name%` filled in its subject, text, html and user variables. */
function personalEmail(
  content: Content,
  userVariables: Record<string, string>,
  batch: RecipientVariables,
  to: Address,
  path: string,
): { content: EmailToSend['content']; metadata: Record<string, string> } | MailgunFailure {
  const vars = variablesOf(batch, to.mailbox.address);
  const missing: string[] = [];
  const fill = (text: string, html = false) => {
    const filled = fillRecipientVariables(text, vars, html);
    missing.push(...filled.missing);
    return filled.text;
  };
  const metadata = Object.fromEntries(Object.entries(userVariables).map(([k, v]) => [k, fill(v)]));
  let personal: EmailToSend['content'];
  if (content.template) {
    // the template renders each recipient's values as {{recipient.name}}
    const recipient = batch[to.mailbox.address.toLowerCase()] ?? {};
    personal = { template: { ...content.template, model: { ...content.template.model, recipient } } };
  } else {
    const { subject, text, html } = content.parts;
    personal = {
      subject: fill(subject),
      text: text === undefined ? undefined : fill(text),
      html: html === undefined ? undefined : fill(html, true),
    };
  }
  if (missing.length > 0)
    return badParameter(
      `recipient-variables has no value for ${[...new Set(missing)].map((m) => `%recipient.${m}%`).join(', ')} ` +
        `for ${to.mailbox.address} (${path})`,
    );
  return { content: personal, metadata };
}
