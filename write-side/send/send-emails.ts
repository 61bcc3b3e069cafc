import { randomUUID } from 'node:crypto';
import type { Mailbox, Result, Server } from '../../domain/index.js';
import { err, ok, rfc5322Date } from '../../domain/index.js';
import type { HttpErrorCode } from '../../infra/http/error-catalogue.js';
import type { TemplateContent, TemplateStore } from '../../infra/templates/index.js';
import { renderTemplate } from '../templates/render.js';
import { personalize, type TrackingChoice, type TrackingContext } from '../tracking/personalize.js';
import { acceptMessages, type AcceptError, type AcceptResult, type MessageToAccept } from './accept-messages.js';
import { composeMime, type ComposeAttachment } from './compose.js';
import { virusFields } from './outbound-virus-check.js';
import type { SendApiDeps } from './send-deps.js';
import { substitute } from './substitute.js';
import { trackingContext } from './tracking-context.js';

/** All composed copies of one request together: a thousand personal copies of a large message would exhaust memory. */
export const MAX_REQUEST_BYTES = 256 * 1024 * 1024;

/** Why a send was refused, with a code from the HTTP catalogue; each API turns it into its own error shape. */
export interface SendFailure {
  code: HttpErrorCode;
  message: string;
  fields?: { path: string; message: string }[];
  /** Which check of a client's own message refused it (APIs with finer codes than the catalogue's tell them apart). */
  reason?: 'message-bytes' | 'from-header' | 'sender-header' | undefined;
}

export interface EmailParts {
  subject: string;
  text?: string | undefined;
  html?: string | undefined;
}

/** A server template by id or alias (the current version unless one is named), rendered with `model`. */
export interface TemplateChoice {
  id?: string | undefined;
  alias?: string | undefined;
  version?: number | undefined;
  model: Record<string, unknown>;
}

/**
 * One email as a sender wrote it: its headers, its content, and the envelope recipients it goes to. Each
 * recipient becomes a Postlog message of its own; they share the email's bytes (and Message-ID) unless tracking
 * or unsubscribe links make each copy personal.
 */
export interface EmailToSend {
  /** Header recipients, as written (display names allowed). */
  to: string[];
  cc: string[];
  replyTo?: string | undefined;
  sender?: string | undefined;
  /** Envelope recipients: the To, Cc and Bcc addresses, each once. */
  recipients: Mailbox[];
  content: EmailParts | { template: TemplateChoice };
  /** `{{name}}` values put into subject, text and html (not with a template: its model has them). */
  vars?: Record<string, string> | undefined;
  /** Custom headers, already checked with checkCustomHeaders. */
  headers: Record<string, string>;
  attachments: ComposeAttachment[];
  tracking: TrackingChoice;
  /** This email's own metadata, over the request's. */
  metadata?: Record<string, string> | undefined;
  /** How errors name this email in the request (e.g. `to[3]`, `personalizations[0]`). */
  path: string;
}

export interface SendEmailsRequest {
  server: Server;
  from: Mailbox;
  /** The From header as written ("Name <address>"). */
  fromHeader: string;
  emails: EmailToSend[];
  tag?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /** ISO time; only when in the future. */
  scheduledAt?: string | undefined;
  /** REQUIRETLS (RFC 8689) for every message of the request. */
  requireTls?: boolean | undefined;
  /** Ids reserved by the caller (an Idempotency-Key's), one per recipient in order; otherwise taken here. */
  messageIds?: number[] | undefined;
  idempotencySeed?: string | undefined;
  /** The client's address, for the Received header. */
  ip: string;
  /** "HTTP", or what the Received header should name as the protocol. */
  via?: string | undefined;
  correlationId: string;
}

export type SendEmailsDeps = SendApiDeps & { templates: TemplateStore };

export interface SentEmails extends AcceptResult {
  /** Each email's Message-ID (without angle brackets), in request order. */
  rfcMessageIds: string[];
}

/** How many Postlog messages (envelope recipients) a request makes: ids are taken for this many. */
export const recipientCount = (emails: EmailToSend[]) => emails.reduce((n, e) => n + e.recipients.length, 0);

/**
 * The one path from "emails as an API described them" to accepted messages: renders templates, substitutes
 * variables, personalizes tracking, composes MIME, then accepts everything in one append. Every send API (/v2,
 * the vendor-compatible ones) goes through here, so they differ only in how they read a request and answer.
 */
export async function sendEmails(
  deps: SendEmailsDeps,
  req: SendEmailsRequest,
): Promise<Result<SentEmails, SendFailure>> {
  const ids = req.messageIds ?? (await deps.ids.take(recipientCount(req.emails)));
  const composed = await composeAll(deps, req, ids);
  if ('code' in composed) return err(composed);
  const result = await acceptMessages(deps, {
    server: req.server,
    from: req.from,
    contents: composed.contents,
    messages: composed.messages,
    tag: req.tag,
    metadata: req.metadata,
    scheduledAt:
      req.scheduledAt && Date.parse(req.scheduledAt) > deps.clock.now().getTime()
        ? new Date(req.scheduledAt).toISOString()
        : undefined,
    source: 'api',
    requireTls: req.requireTls,
    messageIds: ids,
    idempotencySeed: req.idempotencySeed,
    correlationId: req.correlationId,
    actor: 'api',
  });
  return result.ok ? ok({ ...result.value, rfcMessageIds: composed.rfcMessageIds }) : err(acceptFailure(result.error));
}

/** An accept error as the HTTP catalogue names it (LOG_REJECTED: nothing was stored, retry). */
export function acceptFailure(error: AcceptError): SendFailure {
  switch (error.code) {
    case 'UNAUTHENTICATED_FROM_ADDRESS':
      return { code: error.code, message: error.message, fields: [{ path: 'from', message: error.message }] };
    case 'VIRUS_FOUND':
      return { code: error.code, message: error.message, fields: virusFields(error.virus) };
    case 'LOG_REJECTED':
      return { code: 'NOT_ACCEPTED', message: 'the messages could not be stored; nothing was accepted, please retry' };
    default:
      return { code: error.code, message: error.message };
  }
}

async function composeAll(
  deps: SendEmailsDeps,
  req: SendEmailsRequest,
  ids: number[],
): Promise<{ contents: Buffer[]; messages: MessageToAccept[]; rfcMessageIds: string[] } | SendFailure> {
  const contents: Buffer[] = [];
  const rfcMessageIds: string[] = [];
  const messages: MessageToAccept[] = [];
  const templates = new Map<string, ChosenTemplate>();
  const trackings = new Map<string, TrackingContext | undefined>();
  const now = deps.clock.now();
  let total = 0;
  let next = 0;
  for (const email of req.emails) {
    const parts = await partsOf(deps, req.server.id, email, templates);
    if ('code' in parts) return parts;
    const { subject, text, html } = parts.parts;
    const wantsTracking =
      (html !== undefined && (email.tracking.trackOpens || email.tracking.trackClicks)) || email.tracking.unsubscribe;
    const tracking = wantsTracking ? await trackingFor(deps, req, trackings) : undefined;
    const messageId = `${randomUUID()}@${deps.hostname}`;
    rfcMessageIds.push(messageId);
    // with tracking or unsubscribe links each recipient gets a copy of its own; otherwise one copy is shared
    const copies = tracking ? email.recipients.length : 1;
    const first = contents.length;
    for (let c = 0; c < copies; c++) {
      const personal = tracking
        ? personalize(tracking, String(ids[next + c]), html, email.tracking)
        : { html, headers: {} };
      const raw = await composeMime({
        from: req.fromHeader,
        sender: email.sender,
        to: email.to,
        cc: email.cc,
        replyTo: email.replyTo,
        subject,
        text,
        html: personal.html,
        attachments: email.attachments,
        headers: { ...email.headers, ...personal.headers },
        messageId,
        date: now,
        received: `from api ([${req.ip}]) by ${deps.hostname} with ${req.via ?? 'HTTP'}; ${rfc5322Date(now)}`,
      });
      if (raw.length > deps.maxMessageBytes)
        return {
          code: 'MESSAGE_TOO_LARGE',
          message: `${email.path}: the message is ${raw.length} bytes; the limit is ${deps.maxMessageBytes}`,
        };
      total += raw.length;
      if (total > MAX_REQUEST_BYTES)
        return {
          code: 'REQUEST_TOO_LARGE',
          message: `the copies of this request exceed ${MAX_REQUEST_BYTES} bytes: send fewer recipients per request`,
        };
      contents.push(raw);
    }
    for (const [r, mailbox] of email.recipients.entries()) {
      messages.push({
        to: mailbox,
        content: first + (tracking ? r : 0),
        rfcMessageId: messageId,
        subject,
        ...(parts.template ? { template: parts.template } : {}),
        ...(email.metadata ? { metadata: { ...req.metadata, ...email.metadata } } : {}),
      });
    }
    next += email.recipients.length;
  }
  return { contents, messages, rfcMessageIds };
}

async function trackingFor(
  deps: SendEmailsDeps,
  req: SendEmailsRequest,
  cache: Map<string, TrackingContext | undefined>,
): Promise<TrackingContext | undefined> {
  if (!cache.has('')) cache.set('', await trackingContext(deps, req.server, req.from.domain));
  return cache.get('');
}

interface ChosenTemplate {
  ref: { id: string; alias: string; version: number };
  content: TemplateContent;
}

/** The email's subject, text and html: its template rendered, or its own with the variables put in. */
async function partsOf(
  deps: SendEmailsDeps,
  serverId: string,
  email: EmailToSend,
  cache: Map<string, ChosenTemplate>,
): Promise<{ parts: EmailParts; template?: ChosenTemplate['ref'] } | SendFailure> {
  if (!('template' in email.content)) {
    if (!email.vars) return { parts: email.content };
    return substituted(email.content, email.vars, email.path);
  }
  const wanted = email.content.template;
  const key = `${wanted.id ?? ''}/${wanted.alias ?? ''}/${wanted.version ?? ''}`;
  let chosen = cache.get(key);
  if (!chosen) {
    const found = await templateVersion(deps.templates, serverId, wanted);
    if ('code' in found) return found;
    cache.set(key, found);
    chosen = found;
  }
  const rendered = renderTemplate(chosen.content, { ...wanted.model, ...email.vars });
  if (!rendered.ok)
    return {
      code: rendered.error.code,
      message: `${email.path}: ${rendered.error.message}`,
      fields: [
        {
          path: rendered.error.variable ? `template.model.${rendered.error.variable}` : 'template',
          message: rendered.error.message,
        },
      ],
    };
  return { parts: rendered.value, template: chosen.ref };
}

/** The parts with `{{name}}` filled in (escaped in HTML); a name without a value is an error naming it. */
function substituted(
  parts: EmailParts,
  vars: Record<string, string>,
  path: string,
): { parts: EmailParts } | SendFailure {
  const subject = substitute(parts.subject, vars, false);
  const text = parts.text !== undefined ? substitute(parts.text, vars, false) : undefined;
  const html = parts.html !== undefined ? substitute(parts.html, vars, true) : undefined;
  const missing = [...new Set([...subject.missing, ...(text?.missing ?? []), ...(html?.missing ?? [])])];
  if (missing.length > 0) {
    const message = `has no value for ${missing.map((m) => `{{${m}}}`).join(', ')}`;
    return {
      code: 'VALIDATION_FAILED',
      message: `${path}.variables ${message}`,
      fields: [{ path: `${path}.variables`, message }],
    };
  }
  return { parts: { subject: subject.text, text: text?.text, html: html?.text } };
}

/** The template version a send names (its current one unless a version is given). */
async function templateVersion(
  templates: TemplateStore,
  serverId: string,
  wanted: TemplateChoice,
): Promise<ChosenTemplate | SendFailure> {
  const template = wanted.id ? await templates.get(wanted.id) : await templates.byAlias(serverId, wanted.alias ?? '');
  const found = template?.serverId === serverId ? template : undefined;
  const version = found && (await templates.version(found.id, wanted.version ?? found.currentVersion));
  if (!found || !version)
    return {
      code: 'UNKNOWN_TEMPLATE',
      message: `the server has no template ${wanted.id ?? wanted.alias}${wanted.version ? ` version ${wanted.version}` : ''}`,
      fields: [{ path: 'template', message: 'no such template (or version) on this server' }],
    };
  return { ref: { id: found.id, alias: found.alias, version: version.version }, content: version };
}
