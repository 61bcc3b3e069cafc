import { parseRecipient, type Mailbox, type Server } from '../../../domain/index.js';
import type { AcceptResult } from '../../send/accept-messages.js';
import type { SendApiDeps } from '../../send/send-deps.js';
import { sendRaw } from '../../send/send-raw.js';
import { addressEntries } from './mailgun-addresses.js';
import { badParameter, mailgunFailure, type MailgunFailure } from './mailgun-errors.js';
import { isFailure, single, type MailgunForm } from './mailgun-form.js';
import { MAX_RECIPIENTS, readUserVariables } from './mailgun-message.js';
import { REFUSED_OPTIONS, readOptions } from './mailgun-options.js';

/** What messages.mime reads besides the message itself and `v:*`. */
const FIELDS = new Set(['to', 'message', 'o:tag', 'o:deliverytime', 'o:testmode', ...Object.keys(REFUSED_OPTIONS)]);
/** Parameters of /messages that a ready-made MIME message cannot take, and why. */
const NOT_FOR_MIME: Record<string, string> = {
  'o:tracking': "a MIME message is tracked by the server's settings; X-Postlog-Track: no in it turns tracking off",
  'o:tracking-opens':
    "a MIME message is tracked by the server's settings; X-Postlog-Track: no in it turns tracking off",
  'o:tracking-clicks':
    "a MIME message is tracked by the server's settings; X-Postlog-Track: no in it turns tracking off",
  'recipient-variables': 'a MIME message is sent as it is, without substitution',
  template: 'a MIME message is sent as it is',
};

export interface MimeSendResult {
  /** The message's Message-ID (its own, or the one Postlog gave it when it had none). */
  rfcMessageId: string;
  /** Undefined in test mode: nothing was accepted. */
  accepted?: AcceptResult;
}

/**
 * POST /v3/{domain}/messages.mime: the client's own MIME message (field `message`, a file or a string) to the
 * `to` addresses, through the one raw path Postal's send/raw and SES Raw take (send-raw.ts: bytes made canonical,
 * the From header's domain verified, the Sender allowed, tracked copies by the server's settings).
 */
export async function sendMailgunMime(
  deps: SendApiDeps,
  ctx: { server: Server; form: MailgunForm; correlationId: string },
): Promise<MimeSendResult | MailgunFailure> {
  const { form, server } = ctx;
  for (const name of form.fields.keys()) {
    if (NOT_FOR_MIME[name])
      return badParameter(`${name} parameter is not taken with messages.mime: ${NOT_FOR_MIME[name]}`);
    if (name.startsWith('h:'))
      return badParameter(`${name} parameter is not taken with messages.mime: write the header into the message`);
    if (!FIELDS.has(name) && !name.startsWith('v:'))
      return badParameter(`${name} parameter is not a Mailgun parameter that Postlog knows`);
  }
  const files = form.files.filter((f) => f.field === 'message');
  const other = form.files.find((f) => f.field !== 'message');
  if (other) return badParameter(`${other.field} parameter: messages.mime takes one file, message`);
  const text = single(form, 'message');
  if (isFailure(text)) return text;
  if (files.length + (text === undefined ? 0 : 1) > 1) return badParameter('message parameter is given more than once');
  const data = files[0]?.content ?? (text === undefined ? undefined : Buffer.from(text, 'utf8'));
  if (!data || data.length === 0) return badParameter('message parameter is missing');

  const options = readOptions(form, deps.clock.now());
  if (isFailure(options)) return options;
  const recipients: Mailbox[] = [];
  const seen = new Set<string>();
  for (const entry of addressEntries(form.fields.get('to') ?? [])) {
    const m = parseRecipient(entry, deps.recipients);
    if (!m.ok) return badParameter(`to parameter is not a valid address. please check documentation (${m.error})`);
    if (seen.has(m.value.address.toLowerCase())) continue;
    seen.add(m.value.address.toLowerCase());
    recipients.push(m.value);
  }
  if (recipients.length === 0) return badParameter('to parameter is missing');
  if (recipients.length > MAX_RECIPIENTS)
    return badParameter(`too many recipients: ${recipients.length}; at most ${MAX_RECIPIENTS}`);
  const metadata = readUserVariables(form, undefined);
  if (isFailure(metadata)) return metadata;
  if (options.tags.length > 1) metadata['o:tag'] = JSON.stringify(options.tags);

  // the one raw path (send-raw.ts): bytes made canonical, From at a verified domain, Sender, tracking copies
  const sent = await sendRaw(deps, {
    server,
    data,
    recipients,
    tag: options.tags[0],
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    scheduledAt: options.scheduledAt,
    testMode: options.testMode,
    correlationId: ctx.correlationId,
  });
  if (!sent.ok) {
    if (sent.error.reason === 'message-bytes' && sent.error.code === 'INVALID_MESSAGE_BYTES')
      return mailgunFailure('INVALID_MESSAGE_BYTES', `message parameter: ${sent.error.message}`);
    if (sent.error.reason === 'from-header')
      return badParameter(`message parameter: its From header ${sent.error.message}`);
    return mailgunFailure(sent.error.code, sent.error.message);
  }
  return { rfcMessageId: sent.value.rfcMessageId, ...(options.testMode ? {} : { accepted: sent.value }) };
}
