import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import {
  canonicalMessageBytes,
  MAX_LINE_BYTES,
  parseMailbox,
  parseRecipient,
  singleFromMailbox,
  type Mailbox,
} from '../../domain/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { coalesceWritesPerTick } from '../../infra/streams/writes-per-tick.js';
import type { Server } from '../../infra/tenancy/index.js';
import type { TlsMaterial } from '../../infra/tls/certificate.js';
import { acceptMessages } from '../send/accept-messages.js';
import { readSubmittedHeaders } from '../send/submitted-headers.js';
import type { AuthThrottle } from './auth-throttle.js';
import type { SendApiDeps } from '../send/send-deps.js';

export interface SubmissionOptions {
  host: string;
  port: number;
  /** Implicit TLS (465) instead of STARTTLS (587). */
  implicitTls: boolean;
  tls: TlsMaterial;
  allowInsecureAuth: boolean;
  maxRecipients: number;
  maxMessagesPerConnection: number;
  /** Failed logins per client address, one for every SMTP listener of the process. */
  authThrottle: AuthThrottle;
  logger: Logger;
  /** Called for every message with its outcome (for metrics). */
  onMessage?: (outcome: 'accepted' | 'rejected' | 'failed') => void;
}

/** SMTP errors carry their reply code; smtp-server sends "<code> <message>". */
const smtpError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

/**
 * SMTP submission for apps (and Listmonk, Mailtrain…): AUTH PLAIN/LOGIN with a server's SMTP
 * credential, offered only once TLS is up, then the same accept path as the HTTP API. The 250
 * is sent only after the messages are committed to the log; an internal failure answers 451 so
 * the client retries. Without AUTH nothing is relayed.
 */
export function createSubmissionServer(deps: SendApiDeps, o: SubmissionOptions): SMTPServer {
  const failures = o.authThrottle;
  const log = o.logger.child({ component: 'submission', port: o.port });
  const messagesPerSession = new Map<string, number>();
  // the recipients onRcptTo parsed, by smtp-server's address object (kept in the envelope)
  const parsedRecipients = new WeakMap<object, Mailbox>();
  return new SMTPServer({
    secure: o.implicitTls,
    key: o.tls.key,
    cert: o.tls.cert,
    name: deps.hostname,
    banner: 'Postlog ESMTP',
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: o.allowInsecureAuth,
    authRequiredMessage: 'Authentication required',
    size: deps.maxMessageBytes,
    rejectOversized: true,
    disableReverseLookup: true,
    logger: false,
    socketTimeout: 5 * 60_000,
    closeTimeout: 10_000,
    onConnect(session, callback) {
      if (failures.blocked(session.remoteAddress))
        return callback(smtpError(421, '4.7.0 Too many failed logins from your address, try again later'));
      // AUTH is neither offered nor accepted before TLS (Postal advertises it in clear text, #3617)
      if (!o.implicitTls && !o.allowInsecureAuth) session.disabledCommands = ['AUTH'];
      callback();
    },
    onSecure(socket, session, callback) {
      // pipelined MAIL, RCPT and DATA are answered in one tick: their replies leave in one record
      coalesceWritesPerTick(socket);
      session.disabledCommands = [];
      callback();
    },
    onClose(session) {
      messagesPerSession.delete(session.id);
    },
    onAuth(auth, session, callback) {
      if (failures.blocked(session.remoteAddress))
        return callback(smtpError(421, '4.7.0 Too many failed logins, try again later'));
      if (!auth.username || !auth.password) return callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
      deps.tenancy.authenticateSmtp(auth.username, auth.password).then(
        (server) => {
          if (!server) {
            failures.record(session.remoteAddress);
            log.warn({ ip: session.remoteAddress, username: auth.username }, 'SMTP authentication failed');
            return callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
          }
          if (server.suspended) return callback(smtpError(535, '5.7.1 The server is suspended'));
          callback(null, { user: server });
        },
        (err: Error) => {
          log.error({ error: err.message }, 'SMTP authentication could not be checked');
          callback(smtpError(454, '4.7.0 Temporary authentication failure'));
        },
      );
    },
    onMailFrom(address, session, callback) {
      // submission is for authenticated clients only: never an open relay
      if (!session.user) return callback(smtpError(530, '5.7.0 Authentication required'));
      const sent = messagesPerSession.get(session.id) ?? 0;
      if (sent >= o.maxMessagesPerConnection)
        return callback(smtpError(421, '4.7.0 Too many messages on this connection, reconnect'));
      if (address.address && !parseMailbox(address.address).ok)
        return callback(smtpError(553, '5.1.7 Invalid sender address'));
      callback();
    },
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= o.maxRecipients)
        return callback(smtpError(452, `4.5.3 Too many recipients (at most ${o.maxRecipients} per message)`));
      const mailbox = parseRecipient(address.address, deps.recipients);
      if (!mailbox.ok) return callback(smtpError(553, '5.1.3 Invalid recipient address'));
      parsedRecipients.set(address, mailbox.value);
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if (stream.sizeExceeded)
          return callback(smtpError(552, `5.3.4 Message too big (at most ${deps.maxMessageBytes} bytes)`));
        // line ends, NULs and line lengths are decided here, before any header is read (see message-bytes.ts)
        const data = canonicalMessageBytes(Buffer.concat(chunks), { maxLineBytes: MAX_LINE_BYTES });
        if (!data.ok) {
          o.onMessage?.('rejected');
          return callback(smtpError(554, `5.6.0 ${data.error.message}`));
        }
        // CRLF for bare line ends can grow a message past the limit it was checked against
        if (data.value.length > deps.maxMessageBytes) {
          o.onMessage?.('rejected');
          return callback(smtpError(552, `5.3.4 Message too big (at most ${deps.maxMessageBytes} bytes)`));
        }
        const received = `Received: from ${session.hostNameAppearsAs.slice(0, 255)} ([${session.remoteAddress}]) by ${deps.hostname} with ${session.secure ? 'ESMTPSA' : 'ESMTPA'} id ${session.id}; ${deps.clock.now().toUTCString()}\r\n`;
        const raw = Buffer.concat([Buffer.from(received), data.value]);
        accept(deps, session, raw, parsedRecipients, log).then(
          (reply) => {
            messagesPerSession.set(session.id, (messagesPerSession.get(session.id) ?? 0) + 1);
            o.onMessage?.('accepted');
            callback(null, reply);
          },
          (err: Error & { responseCode?: number }) => {
            o.onMessage?.(err.responseCode && err.responseCode >= 500 ? 'rejected' : 'failed');
            callback(err.responseCode ? err : smtpError(451, '4.3.0 Temporary failure storing the message, try again'));
          },
        );
      });
    },
  });
}

async function accept(
  deps: SendApiDeps,
  session: SMTPServerSession,
  raw: Buffer,
  parsedRecipients: WeakMap<object, Mailbox>,
  log: Logger,
): Promise<string> {
  const server = session.user as unknown as Server;
  // only the header fields matter here (From, Subject, Message-ID)
  const email = readSubmittedHeaders(raw);
  if (!email.ok) throw smtpError(552, `5.3.4 ${email.error}`);
  const fromHeader = singleFromMailbox(email.value.headers);
  if (!fromHeader.ok) throw smtpError(550, `5.7.1 ${fromHeader.error}`);
  const recipients: Mailbox[] = [];
  for (const r of session.envelope.rcptTo) {
    const parsed = parsedRecipients.get(r);
    const m = parsed ? { ok: true as const, value: parsed } : parseRecipient(r.address, deps.recipients);
    if (m.ok && !recipients.some((x) => x.address.toLowerCase() === m.value.address.toLowerCase()))
      recipients.push(m.value);
  }
  const rfcMessageId = email.value.rfcMessageId ?? `${session.id}@${deps.hostname}`;
  try {
    const result = await acceptMessages(deps, {
      server,
      from: fromHeader.value,
      contents: [raw],
      messages: recipients.map((to) => ({ to, content: 0, rfcMessageId, subject: email.value.subject })),
      source: 'smtp',
      correlationId: `smtp-${session.id}`,
      actor: `smtp:${session.user ? 'credential' : 'anonymous'}`,
    });
    if (!result.ok) {
      if (result.error.code === 'UNAUTHENTICATED_FROM_ADDRESS') throw smtpError(550, `5.7.1 ${result.error.message}`);
      if (result.error.code === 'NO_RECIPIENTS') throw smtpError(554, '5.5.1 No valid recipients');
      if (result.error.code === 'INVALID_MESSAGE_BYTES') throw smtpError(554, `5.6.0 ${result.error.message}`);
      throw smtpError(451, '4.3.0 The message could not be stored; nothing was accepted, try again');
    }
    return `2.0.0 Ok: queued as ${result.value.messages.map((m) => m.id).join(',')}`;
  } catch (err) {
    if ((err as { responseCode?: number }).responseCode) throw err;
    log.error({ error: (err as Error).message }, 'accepting an SMTP message failed');
    throw smtpError(451, '4.3.0 Temporary failure storing the message, try again');
  }
}
