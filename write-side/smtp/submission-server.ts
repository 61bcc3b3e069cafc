import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import {
  canonicalMessageBytes,
  MAX_LINE_BYTES,
  parseMailbox,
  parseRecipient,
  rfc5322Date,
  singleFromMailbox,
  type Mailbox,
  type Server,
} from '../../domain/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { isSmtpReply, smtpReply, type SmtpReplyCode } from '../../infra/smtp/reply-catalogue.js';
import { coalesceWritesPerTick } from '../../infra/streams/writes-per-tick.js';
import type { TlsMaterial } from '../../infra/tls/certificate.js';
import { acceptMessages, type AcceptError } from '../send/accept-messages.js';
import { readCampaignHeaders, withoutSmtpApiHeader } from '../send/campaign-headers.js';
import { withMessageId } from '../send/message-id.js';
import { rawContents } from '../send/raw-contents.js';
import { checkSenderHeader } from '../send/sender-header.js';
import { readSubmittedHeaders } from '../send/submitted-headers.js';
import type { AuthThrottle } from './auth-throttle.js';
import { acceptProxyHeaders, proxyAllowList } from './proxy-header.js';
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
  /** PROXY protocol senders (POSTLOG_SMTP_PROXY_FROM, CIDR ranges); empty: nobody sends a PROXY header. */
  proxyFrom: string[];
  /** Failed logins per client address, one for every SMTP listener of the process. */
  authThrottle: AuthThrottle;
  logger: Logger;
  /** Called for every message with its outcome (for metrics). */
  onMessage?: (outcome: 'accepted' | 'rejected' | 'failed') => void;
}

/** The reply for each way the accept path can refuse: a code missing here does not compile. */
const ACCEPT_ERROR_REPLIES: Record<AcceptError['code'], SmtpReplyCode> = {
  UNAUTHENTICATED_FROM_ADDRESS: 'FROM_NOT_ALLOWED',
  NO_RECIPIENTS: 'NO_RECIPIENTS',
  INVALID_MESSAGE_BYTES: 'INVALID_MESSAGE_BYTES',
  LOG_REJECTED: 'NOT_STORED',
  SPAM_CHECK_UNAVAILABLE: 'SPAM_CHECK_UNAVAILABLE',
  VIRUS_FOUND: 'VIRUS_FOUND',
  VIRUS_SCAN_UNAVAILABLE: 'VIRUS_SCAN_UNAVAILABLE',
};

/**
 * SMTP submission for apps (and Listmonk, Mailtrain…): AUTH PLAIN/LOGIN/CRAM-MD5 with a server's
 * SMTP credential, offered only once TLS is up, then the same accept path as the HTTP API. The
 * 250 is sent only after the messages are committed to the log; an internal failure answers 451
 * so the client retries. Without AUTH nothing is relayed, except for clients whose address is in
 * an SMTP-IP credential's range (Postal's), for that credential's server.
 */
export function createSubmissionServer(deps: SendApiDeps, o: SubmissionOptions): SMTPServer {
  const failures = o.authThrottle;
  const log = o.logger.child({ component: 'submission', port: o.port });
  const messagesPerSession = new Map<string, number>();
  // who the session's current transaction submits for, decided at MAIL FROM
  const submitters = new Map<string, Submitter>();
  const refusedUnauthenticated = new Map<string, number>();
  /** A login's server, or else the server of an SMTP-IP credential holding the client's address. */
  const submitterOf = async (session: SMTPServerSession): Promise<Submitter | undefined> => {
    if (session.user) return { server: session.user as unknown as Server, by: 'credential' };
    const server = await deps.tenancy.authenticateSmtpAddress(session.remoteAddress);
    return server ? { server, by: 'address' } : undefined;
  };
  // the recipients onRcptTo parsed, by smtp-server's address object (kept in the envelope)
  const parsedRecipients = new WeakMap<object, Mailbox>();
  const server = new SMTPServer({
    secure: o.implicitTls,
    key: o.tls.key,
    cert: o.tls.cert,
    name: deps.hostname,
    banner: 'Postlog',
    // CRAM-MD5 (Listmonk's default) checks a response made from the password: see onAuth
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'],
    allowInsecureAuth: o.allowInsecureAuth,
    // clients of an SMTP-IP credential send without AUTH: onMailFrom decides who must log in
    authOptional: true,
    size: deps.maxMessageBytes,
    rejectOversized: true,
    // RFC 8689: advertised (and MAIL FROM's REQUIRETLS taken) over TLS only; smtp-server sees to both
    hideREQUIRETLS: false,
    disableReverseLookup: true,
    logger: false,
    socketTimeout: 5 * 60_000,
    closeTimeout: 10_000,
    onConnect(session, callback) {
      if (failures.blocked(session.remoteAddress)) return callback(smtpReply('AUTH_THROTTLED_ADDRESS'));
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
      submitters.delete(session.id);
      refusedUnauthenticated.delete(session.id);
    },
    onAuth(auth, session, callback) {
      if (failures.blocked(session.remoteAddress)) return callback(smtpReply('AUTH_THROTTLED_ACCOUNT'));
      const refused = (reason: string, code: SmtpReplyCode = 'AUTH_INVALID') => {
        failures.record(session.remoteAddress);
        log.warn(
          { ip: session.remoteAddress, username: auth.username, method: auth.method, reason },
          'SMTP authentication failed',
        );
        callback(smtpReply(code));
      };
      const authenticated = (server: Server) =>
        server.suspended ? callback(smtpReply('AUTH_SERVER_SUSPENDED')) : callback(null, { user: server });
      const unavailable = (err: Error) => {
        log.error({ error: err.message }, 'SMTP authentication could not be checked');
        callback(smtpReply('AUTH_UNAVAILABLE'));
      };
      if (!auth.username) return callback(smtpReply('AUTH_INVALID'));
      if (auth.method === 'CRAM-MD5') {
        deps.tenancy
          .authenticateSmtpChallenge(auth.username, (secret) => auth.validatePassword(secret))
          .then((login) => {
            if (login.outcome === 'ok') return authenticated(login.server);
            if (login.outcome === 'unreadable') return refused(login.reason, 'AUTH_CRAM_MD5_UNAVAILABLE');
            refused(login.outcome === 'unknown' ? 'no such SMTP login' : 'wrong password');
          }, unavailable);
        return;
      }
      if (!auth.password) return callback(smtpReply('AUTH_INVALID'));
      deps.tenancy
        .authenticateSmtp(auth.username, auth.password)
        .then((server) => (server ? authenticated(server) : refused('wrong username or password')), unavailable);
    },
    onMailFrom(address, session, callback) {
      // submission is for authenticated clients only (a login, or an address of an SMTP-IP
      // credential): never an open relay
      submitterOf(session).then(
        (submitter) => {
          if (!submitter) {
            const refusals = (refusedUnauthenticated.get(session.id) ?? 0) + 1;
            refusedUnauthenticated.set(session.id, refusals);
            // smtp-server's own limit on commands before AUTH is off (authOptional): this one closes
            if (refusals >= 3) return callback(smtpReply('AUTH_REQUIRED_CLOSING'));
            // a client that skipped STARTTLS was never offered AUTH: say what comes first
            const beforeTls = !session.secure && !o.allowInsecureAuth;
            return callback(
              smtpReply('AUTH_REQUIRED', beforeTls ? 'Authentication required: STARTTLS first, then AUTH' : undefined),
            );
          }
          if (submitter.server.suspended) return callback(smtpReply('AUTH_SERVER_SUSPENDED'));
          const sent = messagesPerSession.get(session.id) ?? 0;
          if (sent >= o.maxMessagesPerConnection) return callback(smtpReply('TOO_MANY_MESSAGES'));
          if (address.address && !parseMailbox(address.address).ok) return callback(smtpReply('INVALID_SENDER'));
          submitters.set(session.id, submitter);
          callback();
        },
        (err: Error) => {
          log.error({ error: err.message }, 'the SMTP-IP credentials could not be checked');
          callback(smtpReply('AUTH_UNAVAILABLE'));
        },
      );
    },
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= o.maxRecipients)
        return callback(
          smtpReply('TOO_MANY_RECIPIENTS', `Too many recipients (at most ${o.maxRecipients} per message)`),
        );
      const mailbox = parseRecipient(address.address, deps.recipients);
      if (!mailbox.ok) return callback(smtpReply('INVALID_RECIPIENT'));
      parsedRecipients.set(address, mailbox.value);
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if (stream.sizeExceeded)
          return callback(smtpReply('MESSAGE_TOO_BIG', `Message too big (at most ${deps.maxMessageBytes} bytes)`));
        // line ends, NULs and line lengths are decided here, before any header is read (see message-bytes.ts)
        const data = canonicalMessageBytes(Buffer.concat(chunks), { maxLineBytes: MAX_LINE_BYTES });
        if (!data.ok) {
          o.onMessage?.('rejected');
          return callback(smtpReply('INVALID_MESSAGE_BYTES', data.error.message));
        }
        // CRLF for bare line ends can grow a message past the limit it was checked against
        if (data.value.length > deps.maxMessageBytes) {
          o.onMessage?.('rejected');
          return callback(smtpReply('MESSAGE_TOO_BIG', `Message too big (at most ${deps.maxMessageBytes} bytes)`));
        }
        const submitter = submitters.get(session.id);
        if (!submitter) return callback(smtpReply('AUTH_REQUIRED'));
        // RFC 3848: S for TLS, A for a client that logged in (an SMTP-IP client did not)
        const protocol = `ESMTP${session.secure ? 'S' : ''}${submitter.by === 'credential' ? 'A' : ''}`;
        const raw = Buffer.concat([Buffer.from(receivedHeader(deps, session, submitter, protocol)), data.value]);
        accept(deps, session, submitter, raw, parsedRecipients, log).then(
          (reply) => {
            const sent = (messagesPerSession.get(session.id) ?? 0) + 1;
            messagesPerSession.set(session.id, sent);
            o.onMessage?.('accepted');
            callback(null, reply);
            if (sent >= o.maxMessagesPerConnection) closeSpentConnection(server, session.id);
          },
          (err: Error) => {
            o.onMessage?.(isSmtpReply(err) && err.responseCode >= 500 ? 'rejected' : 'failed');
            callback(
              isSmtpReply(err)
                ? err
                : smtpReply('TEMPORARY_FAILURE', 'Temporary failure storing the message, try again'),
            );
          },
        );
      });
    },
  });
  if (o.proxyFrom.length > 0) acceptProxyHeaders(server, proxyAllowList(o.proxyFrom), log);
  return server;
}

/**
 * Ends a connection that sent its last message, right after that message's 250: a 421 nobody
 * asked for (RFC 5321 §3.8: the one reply a server may send to close), then the close. Waiting
 * for the next MAIL FROM to refuse would fail a message of a client that does not retry a 4xx
 * there: Listmonk's pool (knadh/smtppool) retries network errors only, so its message would be
 * lost. That pool sends RSET after every message, reads the 421 as its answer and drops the
 * connection; nodemailer's pool takes it as the close of an idle connection.
 */
function closeSpentConnection(server: SMTPServer, sessionId: string): void {
  for (const connection of server.connections) {
    if (connection.id !== sessionId) continue;
    const reply = smtpReply('TOO_MANY_MESSAGES');
    // smtp-server closes the connection after sending any 421
    connection.send(reply.responseCode, reply.message);
    return;
  }
}

/** Our trace header; a server in privacy mode (Postal's) shows neither the client's address nor its name. */
function receivedHeader(deps: SendApiDeps, session: SMTPServerSession, submitter: Submitter, protocol: string): string {
  const from = submitter.server.privacyMode
    ? ''
    : `from ${session.hostNameAppearsAs.slice(0, 255)} ([${session.remoteAddress}]) `;
  return `Received: ${from}by ${deps.hostname} with ${protocol} id ${session.id}; ${rfc5322Date(deps.clock.now())}\r\n`;
}

/** Who a transaction submits for: a login's server, or an SMTP-IP credential's (by the client's address). */
interface Submitter {
  server: Server;
  by: 'credential' | 'address';
}

async function accept(
  deps: SendApiDeps,
  session: SMTPServerSession,
  submitter: Submitter,
  raw: Buffer,
  parsedRecipients: WeakMap<object, Mailbox>,
  log: Logger,
): Promise<string> {
  const { server } = submitter;
  // only the header fields matter here (From, Subject, Message-ID, campaign managers' metadata)
  const email = readSubmittedHeaders(raw);
  if (!email.ok) throw smtpReply('MESSAGE_TOO_BIG', email.error);
  const fromHeader = singleFromMailbox(email.value.headers);
  if (!fromHeader.ok) throw smtpReply('FROM_NOT_ALLOWED', fromHeader.error);
  const sender = await checkSenderHeader(deps, server, email.value.headers);
  if (!sender.ok) throw smtpReply('SENDER_NOT_ALLOWED', sender.error);
  const campaign = readCampaignHeaders(email.value.headers);
  if (!campaign.ok) throw smtpReply('INVALID_METADATA_HEADER', campaign.error);
  // X-SMTPAPI is an instruction to us: it must not reach the recipients
  const { raw: relayed, rfcMessageId } = withMessageId(
    campaign.value.hasSmtpApi ? withoutSmtpApiHeader(raw) : raw,
    email.value,
    deps.hostname,
  );
  const metadata = campaign.value.metadata;
  const recipients: Mailbox[] = [];
  for (const r of session.envelope.rcptTo) {
    const parsed = parsedRecipients.get(r);
    const m = parsed ? { ok: true as const, value: parsed } : parseRecipient(r.address, deps.recipients);
    if (m.ok && !recipients.some((x) => x.address.toLowerCase() === m.value.address.toLowerCase()))
      recipients.push(m.value);
  }
  try {
    const settings = await deps.deliverability?.get(server.id);
    const stored = await rawContents(deps, server, fromHeader.value.domain, relayed, recipients.length, {
      listUnsubscribe: settings?.smtpListUnsubscribe === true,
    });
    const result = await acceptMessages(deps, {
      server,
      from: fromHeader.value,
      contents: stored.contents,
      messages: recipients.map((to, i) => ({
        to,
        content: stored.messageIds ? i : 0,
        rfcMessageId,
        subject: email.value.subject,
      })),
      messageIds: stored.messageIds,
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
      ...(campaign.value.tag !== undefined ? { tag: campaign.value.tag } : {}),
      source: 'smtp',
      ...(session.envelope.requireTLS ? { requireTls: true } : {}),
      correlationId: `smtp-${session.id}`,
      actor: submitter.by === 'credential' ? 'smtp:credential' : 'smtp:ip-credential',
    });
    if (!result.ok) {
      const code = ACCEPT_ERROR_REPLIES[result.error.code];
      // the catalogue's own text where the error's message is for the log, not the client
      const detailed = code === 'FROM_NOT_ALLOWED' || code === 'INVALID_MESSAGE_BYTES';
      if (!detailed) log.warn({ error: result.error.message, code: result.error.code }, 'SMTP message not accepted');
      // the signature is named: the sender learns which of its files is infected
      if (result.error.code === 'VIRUS_FOUND')
        throw smtpReply(code, `Message refused: it carries a virus (${result.error.virus})`);
      throw smtpReply(code, detailed ? result.error.message : undefined);
    }
    // Mailtrain keeps the reply's last word and matches Postal-format webhooks' message.message_id on it: the
    // Message-ID, which every message of the transaction shares (see docs/mailtrain.md)
    return `2.0.0 Ok: queued as ${result.value.messages.map((m) => m.id).join(',')} Message-ID ${rfcMessageId}`;
  } catch (err) {
    if (isSmtpReply(err)) throw err;
    log.error({ error: (err as Error).message }, 'accepting an SMTP message failed');
    throw smtpReply('TEMPORARY_FAILURE', 'Temporary failure storing the message, try again');
  }
}
