import {
  canonicalMessageBytes,
  err,
  MAX_LINE_BYTES,
  ok,
  parseRecipientList,
  singleFromMailbox,
  type Mailbox,
  type Result,
  type Server,
} from '../../domain/index.js';
import { acceptMessages, type AcceptResult } from './accept-messages.js';
import { rawContents } from './raw-contents.js';
import { withMessageId } from './message-id.js';
import type { SendApiDeps } from './send-deps.js';
import { acceptFailure, type SendFailure } from './send-emails.js';
import { checkSenderHeader } from './sender-header.js';
import { readSubmittedHeaders } from './submitted-headers.js';

export interface RawSendRequest {
  server: Server;
  /** The message as the client sent it (line ends are decided here). */
  data: Buffer;
  /** Envelope recipients; undefined: the To and Cc header addresses (a Bcc header then is refused). */
  recipients?: Mailbox[] | undefined;
  tag?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /** ISO time; only when in the future. */
  scheduledAt?: string | undefined;
  /** Check everything a send checks (bytes, From at a verified domain, Sender), accept nothing (vendors' test modes). */
  testMode?: boolean | undefined;
  correlationId: string;
}

export interface SentRaw extends AcceptResult {
  /** The message's Message-ID (without angle brackets): its own, or one given to it when it had none. */
  rfcMessageId: string;
  /** Whether the message had a Message-ID of its own. */
  hadMessageId: boolean;
  recipients: Mailbox[];
}

/**
 * The one path for a message a client composed itself over HTTP (Postal's send/raw, the vendor APIs' raw sends):
 * its bytes made canonical before any header is read, one From mailbox at a verified domain, a Sender the server
 * allows, tracking copies as
 * the server wants, then accepted for each envelope recipient. The message's own bytes are what is signed and sent.
 */
export async function sendRaw(deps: SendApiDeps, req: RawSendRequest): Promise<Result<SentRaw, SendFailure>> {
  const tooLarge = (n: number, how = '') =>
    err({
      code: 'MESSAGE_TOO_LARGE' as const,
      message: `the message is ${n} bytes${how}; the limit is ${deps.maxMessageBytes}`,
    });
  if (req.data.length > deps.maxMessageBytes) return tooLarge(req.data.length);
  // line ends, NULs and line lengths are decided here, before any header is read (see message-bytes.ts)
  const canonical = canonicalMessageBytes(req.data, { maxLineBytes: MAX_LINE_BYTES });
  if (!canonical.ok)
    return err({ code: 'INVALID_MESSAGE_BYTES', message: canonical.error.message, reason: 'message-bytes' });
  const raw = canonical.value;
  // CRLF for bare line ends can grow a message past the limit it was checked against
  if (raw.length > deps.maxMessageBytes) return tooLarge(raw.length, ' with CRLF line ends');
  const email = readSubmittedHeaders(raw);
  if (!email.ok) return err({ code: 'INVALID_MESSAGE_BYTES', message: email.error, reason: 'message-bytes' });
  const from = singleFromMailbox(email.value.headers);
  if (!from.ok) return err({ code: 'UNAUTHENTICATED_FROM_ADDRESS', message: from.error, reason: 'from-header' });
  const sender = await checkSenderHeader(deps, req.server, email.value.headers);
  if (!sender.ok) return err({ code: 'UNAUTHENTICATED_FROM_ADDRESS', message: sender.error, reason: 'sender-header' });
  const recipients = req.recipients ?? headerRecipients(email.value.headers, deps);
  if (!Array.isArray(recipients)) return err(recipients);
  const seen = new Set<string>();
  const unique = recipients.filter((m) => !seen.has(m.address.toLowerCase()) && seen.add(m.address.toLowerCase()));
  if (unique.length === 0) return err({ code: 'NO_RECIPIENTS', message: 'the message has no recipients' });
  const identified = withMessageId(raw, email.value, deps.hostname);
  const rfcMessageId = identified.rfcMessageId;
  const hadMessageId = email.value.rfcMessageId !== undefined;
  if (req.testMode) {
    const domain = await deps.tenancy.sendingDomain(req.server.id, from.value.domain);
    if (!domain?.verified)
      return err({
        code: 'UNAUTHENTICATED_FROM_ADDRESS',
        message: `${from.value.domain} is not a verified domain of this server`,
      });
    return ok({ batchId: '', messages: [], rfcMessageId, hadMessageId, recipients: unique });
  }
  const stored = await rawContents(deps, req.server, from.value.domain, identified.raw, unique.length);
  const result = await acceptMessages(deps, {
    server: req.server,
    from: from.value,
    contents: stored.contents,
    messages: unique.map((to, i) => ({
      to,
      content: stored.messageIds ? i : 0,
      rfcMessageId,
      subject: email.value.subject,
    })),
    messageIds: stored.messageIds,
    tag: req.tag,
    metadata: req.metadata,
    scheduledAt:
      req.scheduledAt && Date.parse(req.scheduledAt) > deps.clock.now().getTime()
        ? new Date(req.scheduledAt).toISOString()
        : undefined,
    source: 'api',
    correlationId: req.correlationId,
    actor: 'api',
  });
  if (!result.ok) return err(acceptFailure(result.error));
  return ok({
    ...result.value,
    rfcMessageId,
    hadMessageId,
    recipients: unique,
  });
}

/** The To and Cc addresses of a message's header; a Bcc header is refused (its addresses would be sent on). */
function headerRecipients(headers: { key: string; value: string }[], deps: SendApiDeps): Mailbox[] | SendFailure {
  if (headers.some((h) => h.key === 'bcc'))
    return {
      code: 'VALIDATION_FAILED',
      message: 'the message has a Bcc header: give its recipients as envelope recipients and leave the header out',
    };
  const list: Mailbox[] = [];
  for (const h of headers.filter((h) => h.key === 'to' || h.key === 'cc')) {
    const parsed = parseRecipientList(h.value, deps.recipients);
    if (!parsed.ok) return { code: 'VALIDATION_FAILED', message: `${h.key}: ${parsed.error}` };
    list.push(...parsed.value);
  }
  return list;
}
