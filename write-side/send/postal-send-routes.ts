import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseMailbox, parseRecipient, rfc5322Date, type Mailbox, type RecipientOptions } from '../../domain/index.js';
import {
  postalAuthenticate,
  postalError,
  postalErrorHandler,
  postalParameterError,
  postalParams,
  postalSuccess,
} from '../../infra/http/postal-envelope.js';
import {
  PostalSendMessageParams,
  PostalSendRawParams,
  postalRouteSchema,
  postalValidatorCompiler,
} from '../../infra/http/postal-openapi.js';
import { acceptMessages } from './accept-messages.js';
import { checkCustomHeaders, composeMime } from './compose.js';
import type { SendApiDeps } from './send-deps.js';
import { acceptFailure, type SendFailure } from './send-emails.js';
import { sendRaw } from './send-raw.js';
import { checkSenderHeader } from './sender-header.js';
import { trackingContext } from './tracking-context.js';
import { personalize } from '../tracking/personalize.js';

const MESSAGES: Record<string, string> = {
  NoRecipients: 'There are no recipients defined to receive this message',
  TooManyToAddresses: 'The maximum number of To addresses has been reached (maximum 50)',
  TooManyCCAddresses: 'The maximum number of CC addresses has been reached (maximum 50)',
  TooManyBCCAddresses: 'The maximum number of BCC addresses has been reached (maximum 50)',
  NoContent: 'There is no content defined for this e-mail',
  FromAddressMissing: 'The From address is missing and is required',
  UnauthenticatedFromAddress: 'The From address is not authorised to send mail from this server',
  AttachmentMissingName: 'An attachment is missing a name',
  AttachmentMissingData: 'An attachment is missing data',
};

const blank = (v: unknown) =>
  v === undefined ||
  v === null ||
  v === false ||
  (typeof v === 'string' && v.trim() === '') ||
  (Array.isArray(v) && v.length === 0);
const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v));

/** Postal accepts a list or a comma-separated string. */
function addressList(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/,\s*/).filter((s) => s.trim() !== '');
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(String);
  return [];
}

/** Postal's /api/v1/send/message and /api/v1/send/raw. */
export function postalSendRoutes(deps: SendApiDeps) {
  return async function plugin(app: FastifyInstance) {
    app.addHook('onRequest', async (req) => {
      req.postalStartedAt = performance.now();
    });
    // Postal answers every problem inside its JSON envelope, never with a bare HTTP error.
    app.setErrorHandler(postalErrorHandler);
    const options = { validatorCompiler: postalValidatorCompiler, config: { rateLimit: {} } };
    for (const method of ['GET', 'POST', 'PATCH', 'PUT'] as const) {
      app.route({
        method,
        url: '/api/v1/send/message',
        ...options,
        schema: postalRouteSchema(method, 'Send a message (Postal)', PostalSendMessageParams),
        handler: (req, reply) => sendMessage(deps, req, reply),
      });
      app.route({
        method,
        url: '/api/v1/send/raw',
        ...options,
        schema: postalRouteSchema(method, 'Send a raw RFC 822 message (Postal)', PostalSendRawParams),
        handler: (req, reply) => sendRawMessage(deps, req, reply),
      });
    }
  };
}

async function sendMessage(deps: SendApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const server = await postalAuthenticate(req, reply, deps.auth);
  if (!server) return reply;
  const parsed = postalParams(req);
  if (!parsed.ok) return postalParameterError(req, reply, parsed.message);
  const p = parsed.params;
  const to = addressList(p.to);
  const cc = addressList(p.cc);
  const bcc = addressList(p.bcc);
  const attachmentsIn = Array.isArray(p.attachments)
    ? p.attachments.filter(
        (a): a is Record<string, unknown> => typeof a === 'object' && a !== null && !Array.isArray(a),
      )
    : [];
  const attachments = attachmentsIn.map((a) => ({
    filename: str(a.name) ?? '',
    contentType: str(a.content_type) || 'application/octet-stream',
    content: Buffer.from(str(a.data) ?? '', 'base64'),
  }));

  // Postal runs every check and answers with the first failure, in this order.
  const from = blank(p.from) ? undefined : parseMailbox(String(p.from));
  const checks: [boolean, string][] = [
    [to.length + cc.length + bcc.length === 0, 'NoRecipients'],
    [to.length > 50, 'TooManyToAddresses'],
    [cc.length > 50, 'TooManyCCAddresses'],
    [bcc.length > 50, 'TooManyBCCAddresses'],
    [blank(p.plain_body) && blank(p.html_body), 'NoContent'],
    [from === undefined, 'FromAddressMissing'],
    [from !== undefined && !from.ok, 'UnauthenticatedFromAddress'],
    [attachments.some((a) => a.filename.trim() === ''), 'AttachmentMissingName'],
    [attachments.some((a) => a.filename.trim() !== '' && a.content.length === 0), 'AttachmentMissingData'],
  ];
  const failed = checks.find(([bad]) => bad);
  if (failed) return postalError(req, reply, failed[1], { message: MESSAGES[failed[1]] });
  const sender = from!.ok ? from!.value : undefined!;
  // the `sender` parameter becomes the Sender header: held to the rule SMTP holds it to (sender-header.ts)
  const senderHeader = blank(p.sender)
    ? undefined
    : await checkSenderHeader(deps, server, [{ key: 'sender', value: String(p.sender) }]);
  if (senderHeader && !senderHeader.ok) return unauthenticatedSender(req, reply, senderHeader.error);

  const recipients = uniqueRecipients([...to, ...cc, ...bcc], deps.recipients);
  if (!recipients.ok) return postalError(req, reply, 'ValidationError', { message: recipients.message });
  const headers: Record<string, string> = {};
  if (p.headers && typeof p.headers === 'object' && !Array.isArray(p.headers)) {
    for (const [k, v] of Object.entries(p.headers as Record<string, unknown>)) headers[k] = String(v);
  }
  const badHeader = checkCustomHeaders(headers);
  if (badHeader)
    return postalError(req, reply, 'ValidationError', { message: `header ${badHeader.name} ${badHeader.problem}` });

  const messageId = `${randomUUID()}@${deps.hostname}`;
  const html = blank(p.html_body) ? undefined : str(p.html_body);
  const base = {
    from: String(p.from),
    sender: str(p.sender),
    to,
    cc,
    replyTo: str(p.reply_to),
    subject: str(p.subject),
    text: blank(p.plain_body) ? undefined : str(p.plain_body),
    attachments,
    messageId,
    date: deps.clock.now(),
    received: `from api ([${req.ip}]) by ${deps.hostname} with HTTP; ${rfc5322Date(deps.clock.now())}`,
  };
  // with tracking or unsubscribe links each recipient gets a copy of its own; otherwise one copy is shared
  const choice = {
    trackOpens: server.trackOpens && html !== undefined,
    trackClicks: server.trackClicks && html !== undefined,
    unsubscribe: server.listUnsubscribe,
  };
  const tracking =
    choice.trackOpens || choice.trackClicks || choice.unsubscribe
      ? await trackingContext(deps, server, sender.domain)
      : undefined;
  const personal = tracking !== undefined;
  const ids = await deps.ids.take(recipients.list.length);
  const contents: Buffer[] = [];
  for (let i = 0; i < (personal ? recipients.list.length : 1); i++) {
    const copy = tracking ? personalize(tracking, String(ids[i]), html, choice) : { html, headers: {} };
    const raw = await composeMime({ ...base, html: copy.html, headers: { ...headers, ...copy.headers } });
    if (raw.length > deps.maxMessageBytes) {
      return postalError(req, reply, 'ValidationError', {
        message: `the message is ${raw.length} bytes; the limit is ${deps.maxMessageBytes}`,
      });
    }
    contents.push(raw);
  }
  const result = await acceptMessages(deps, {
    server,
    from: sender,
    contents,
    messages: recipients.list.map((r, i) => ({
      to: r.mailbox,
      content: personal ? i : 0,
      rfcMessageId: messageId,
      subject: str(p.subject) ?? '',
    })),
    messageIds: ids,
    tag: str(p.tag),
    source: 'api',
    correlationId: req.id,
    actor: 'api',
  });
  if (!result.ok) return postalSendError(req, reply, acceptFailure(result.error));
  const messages: Record<string, { id: number; token: string }> = {};
  result.value.messages.forEach((m, i) => (messages[recipients.list[i]!.key] = { id: m.id, token: m.token }));
  return postalSuccess(req, reply, { message_id: messageId, messages });
}

async function sendRawMessage(deps: SendApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const server = await postalAuthenticate(req, reply, deps.auth);
  if (!server) return reply;
  const parsed = postalParams(req);
  if (!parsed.ok) return postalParameterError(req, reply, parsed.message);
  const p = parsed.params;
  if (!Array.isArray(p.rcpt_to))
    return postalParameterError(req, reply, '`rcpt_to` parameter is required but is missing');
  if (blank(p.mail_from)) return postalParameterError(req, reply, '`mail_from` parameter is required but is missing');
  if (blank(p.data)) return postalParameterError(req, reply, '`data` parameter is required but is missing');
  const mailFrom = parseMailbox(String(p.mail_from));
  if (!mailFrom.ok) return postalError(req, reply, 'ValidationError', { message: `mail_from: ${mailFrom.error}` });
  const rcpts = [...new Set(p.rcpt_to.map(String))];
  const recipients: { key: string; mailbox: Mailbox }[] = [];
  for (const r of rcpts) {
    const m = parseRecipient(r, deps.recipients);
    if (!m.ok) return postalError(req, reply, 'ValidationError', { message: `rcpt_to: ${m.error}` });
    recipients.push({ key: r, mailbox: m.value });
  }
  // the one raw path (send-raw.ts): bytes, From (at a verified domain, Postal's rule), Sender, tracking, accept
  const sent = await sendRaw(deps, {
    server,
    data: Buffer.from(String(p.data), 'base64'),
    recipients: recipients.map((r) => r.mailbox),
    correlationId: req.id,
  });
  // Postal answers an empty rcpt_to with success and no message, once the message itself is valid
  if (!sent.ok && sent.error.code === 'NO_RECIPIENTS' && recipients.length === 0)
    return postalSuccess(req, reply, { message_id: null, messages: {} });
  if (!sent.ok) return postalSendError(req, reply, sent.error);
  const messages: Record<string, { id: number; token: string }> = {};
  sent.value.messages.forEach((m, i) => (messages[recipients[i]!.key] = { id: m.id, token: m.token }));
  return postalSuccess(req, reply, { message_id: sent.value.hadMessageId ? sent.value.rfcMessageId : null, messages });
}

/**
 * A Sender header of neither a verified domain nor the server's allowed senders. Postal answers a
 * sender it does not accept as it answers a From it does not (its Sender check is part of finding
 * the authenticated domain), so this is its code, with the reason.
 */
function unauthenticatedSender(req: FastifyRequest, reply: FastifyReply, reason: string) {
  return postalError(req, reply, 'UnauthenticatedFromAddress', {
    message: `${MESSAGES.UnauthenticatedFromAddress}: ${reason}`,
  });
}

/** A refusal of the send path in Postal's envelope, with Postal's code for it. */
function postalSendError(req: FastifyRequest, reply: FastifyReply, error: SendFailure) {
  if (error.reason === 'sender-header') return unauthenticatedSender(req, reply, error.message);
  if (error.reason === 'from-header')
    // Postal's code, with the reason (two From headers, several mailboxes…) that the client needs to fix it
    return postalError(req, reply, 'UnauthenticatedFromAddress', {
      message: `${MESSAGES.UnauthenticatedFromAddress}: ${error.message}`,
    });
  if (error.reason === 'message-bytes')
    return postalError(req, reply, 'ValidationError', { message: `data: ${error.message}` });
  switch (error.code) {
    case 'UNAUTHENTICATED_FROM_ADDRESS':
      return postalError(req, reply, 'UnauthenticatedFromAddress', { message: MESSAGES.UnauthenticatedFromAddress });
    case 'NO_RECIPIENTS':
      return postalError(req, reply, 'NoRecipients', { message: MESSAGES.NoRecipients });
    case 'INVALID_MESSAGE_BYTES':
    case 'MESSAGE_TOO_LARGE':
      return postalError(req, reply, 'ValidationError', { message: error.message });
    // Postal has no virus scan of its own: its envelope, a code of ours, the signature named
    case 'VIRUS_FOUND':
      return postalError(req, reply, 'VirusFound', { message: error.message, virus: error.fields?.[0]?.message });
    case 'VIRUS_SCAN_UNAVAILABLE':
    case 'SPAM_CHECK_UNAVAILABLE':
      return postalError(req, reply, 'ScanUnavailable', { message: error.message });
    default:
      req.log.error({ error }, 'accepting messages failed');
      return postalError(req, reply, 'InternalServerError', {
        message: 'the message could not be stored; nothing was accepted, please retry',
      });
  }
}

/** One message per distinct address; the response keys them by the bare address as given. */
function uniqueRecipients(
  entries: string[],
  options: RecipientOptions,
): { ok: true; list: { key: string; mailbox: Mailbox }[] } | { ok: false; message: string } {
  const seen = new Set<string>();
  const list: { key: string; mailbox: Mailbox }[] = [];
  for (const entry of entries) {
    const m = parseRecipient(entry, options);
    if (!m.ok) return { ok: false, message: `recipient ${m.error}` };
    const id = m.value.address.toLowerCase();
    if (seen.has(id)) continue;
    seen.add(id);
    list.push({ key: m.value.address, mailbox: m.value });
  }
  return { ok: true, list };
}
