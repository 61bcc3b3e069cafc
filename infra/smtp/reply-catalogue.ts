/**
 * Every error reply Postlog's SMTP listeners (submission on 587/465, the inbound MX on 25) send,
 * with its reply code, enhanced status code (RFC 3463) and text: the one place a reply is decided.
 * `smtpReply` takes a code of this catalogue and nothing else, and docs/errors.md is written from
 * it (test/unit/error-catalogue.test.ts keeps them equal). Replies of the SMTP protocol itself
 * (syntax, command order, time-outs, the SIZE limit announced in EHLO) come from smtp-server.
 */
export const SMTP_REPLIES = {
  AUTH_THROTTLED_ADDRESS: {
    reply: 421,
    status: '4.7.0',
    text: 'Too many failed logins from your address, try again later',
    means: 'too many failed logins came from this client address lately; the connection is closed',
  },
  AUTH_THROTTLED_ACCOUNT: {
    reply: 421,
    status: '4.7.0',
    text: 'Too many failed logins, try again later',
    means: 'too many failed logins for this username lately',
  },
  AUTH_INVALID: {
    reply: 535,
    status: '5.7.8',
    text: 'Authentication credentials invalid',
    means: 'the SMTP username or password is wrong (or the credential is revoked)',
  },
  AUTH_CRAM_MD5_UNAVAILABLE: {
    reply: 535,
    status: '5.7.8',
    text: 'This login cannot use CRAM-MD5: use PLAIN or LOGIN, or make a new SMTP login',
    means:
      'the SMTP login was made before passwords were sealed (or its sealed password does not open with the ' +
      'configured key): CRAM-MD5 needs a readable password; the log says which',
  },
  AUTH_SERVER_SUSPENDED: {
    reply: 535,
    status: '5.7.1',
    text: 'The server is suspended',
    means: "the credential's mail server is suspended",
  },
  AUTH_UNAVAILABLE: {
    reply: 454,
    status: '4.7.0',
    text: 'Temporary authentication failure',
    means: 'the credential could not be checked (the database did not answer); try again',
  },
  AUTH_REQUIRED: {
    reply: 530,
    status: '5.7.0',
    text: 'Authentication required',
    means: 'submission needs AUTH (over TLS) before MAIL FROM, unless the client is in an SMTP-IP range',
  },
  AUTH_REQUIRED_CLOSING: {
    reply: 421,
    status: '4.7.0',
    text: 'Authentication required; closing the connection',
    means: 'a third MAIL FROM without AUTH (and from no SMTP-IP range) on one connection; it is closed',
  },
  TOO_MANY_MESSAGES: {
    reply: 421,
    status: '4.7.0',
    text: 'Too many messages on this connection, reconnect',
    means:
      'the connection sent POSTLOG_SMTP_MAX_MESSAGES_PER_CONNECTION messages: sent unasked right after the 250 ' +
      'of the last one, and the connection is closed (a pooled client gets it for its RSET and reconnects)',
  },
  INVALID_SENDER: {
    reply: 553,
    status: '5.1.7',
    text: 'Invalid sender address',
    means: 'the MAIL FROM address is not a valid address',
  },
  TOO_MANY_RECIPIENTS: {
    reply: 452,
    status: '4.5.3',
    text: 'Too many recipients',
    means: 'more RCPT TO than one message may have; send the rest in another transaction',
  },
  INVALID_RECIPIENT: {
    reply: 553,
    status: '5.1.3',
    text: 'Invalid recipient address',
    means: 'the RCPT TO address is not valid, or is of a kind the configuration refuses (address literals)',
  },
  MESSAGE_TOO_BIG: {
    reply: 552,
    status: '5.3.4',
    text: 'Message too big',
    means: 'the message is over POSTLOG_MAX_MESSAGE_BYTES (or its header is too big to read)',
  },
  INVALID_MESSAGE_BYTES: {
    reply: 554,
    status: '5.6.0',
    text: 'The message is not valid',
    means: 'a line over 998 bytes, a NUL byte, or a message that cannot be parsed; the text says where',
  },
  FROM_NOT_ALLOWED: {
    reply: 550,
    status: '5.7.1',
    text: 'The From header is not allowed',
    means: 'no single From, or a From domain this server has not verified; the text says which',
  },
  SENDER_NOT_ALLOWED: {
    reply: 550,
    status: '5.7.1',
    text: 'The Sender header is not allowed',
    means:
      "a Sender header that is not one mailbox of the server's verified domains or its allowed senders; " +
      'the text says which',
  },
  INVALID_METADATA_HEADER: {
    reply: 554,
    status: '5.6.0',
    text: 'A metadata header of the message is not valid',
    means:
      'an X-SMTPAPI header that is not JSON, holds keys other than unique_args and category, or more than one ' +
      'category; or metadata from it or X-Listmonk-* past the /v2 limits (50 keys, names up to 100 and values ' +
      'up to 1,000 characters); the text says which',
  },
  NO_RECIPIENTS: {
    reply: 554,
    status: '5.5.1',
    text: 'No valid recipients',
    means: 'none of the recipients could be accepted',
  },
  NOT_STORED: {
    reply: 451,
    status: '4.3.0',
    text: 'The message could not be stored; nothing was accepted, try again',
    means: 'the event log refused the messages; nothing was accepted, the client should retry',
  },
  TEMPORARY_FAILURE: {
    reply: 451,
    status: '4.3.0',
    text: 'Temporary failure, try again',
    means: "Postlog's own fault (e.g. the database did not answer); nothing was accepted, the client retries",
  },
  SPAM_CHECK_UNAVAILABLE: {
    reply: 451,
    status: '4.7.1',
    text: 'The spam check could not be made, try again later',
    means:
      'a scanner did not answer the outbound spam check or the inbound scan (POSTLOG_SCAN_FAILURE=tempfail); nothing was accepted',
  },
  VIRUS_FOUND: {
    reply: 554,
    status: '5.7.1',
    text: 'Message refused: it carries a virus',
    means:
      'submission: the outbound virus scan (clamd) found a virus; the reply names the signature, nothing was accepted',
  },
  VIRUS_SCAN_UNAVAILABLE: {
    reply: 451,
    status: '4.7.1',
    text: 'The virus scan could not be made, try again later',
    means:
      'clamd did not answer the outbound virus scan or the inbound scan (POSTLOG_SCAN_FAILURE=tempfail); ' +
      'nothing was accepted',
  },
  NO_SUCH_RECIPIENT: {
    reply: 550,
    status: '5.1.1',
    text: 'No such recipient here',
    means: 'inbound MX: no route (and no return path) takes mail for this address',
  },
  ROUTE_REJECTS: {
    reply: 550,
    status: '5.1.1',
    text: 'This address takes no mail',
    means: "inbound MX: the address's route is in Reject mode",
  },
  ROUTE_BOUNCES: {
    reply: 550,
    status: '5.1.1',
    text: 'This address takes no mail',
    means: "inbound MX: the address's route is in Bounce mode; the message is kept, the sender's server returns a DSN",
  },
  CONTENT_REFUSED: {
    reply: 554,
    status: '5.7.1',
    text: 'Message refused',
    means: 'inbound MX: a scanner found a virus, or spam the route (or the fail threshold) refuses',
  },
  ROUTING_LOOP: {
    reply: 554,
    status: '5.4.6',
    text: 'Routing loop detected: too many Received headers',
    means: 'inbound MX: the message passed through too many hosts',
  },
} as const satisfies Record<string, { reply: number; status: string; text: string; means: string }>;

export type SmtpReplyCode = keyof typeof SMTP_REPLIES;

/** An error smtp-server answers with as "<reply> <status> <text>". */
export type SmtpReplyError = Error & { responseCode: number; code: SmtpReplyCode };

/**
 * The reply for a code. `text` replaces the catalogue's text where the reply names the detail
 * (which line is too long, which From domain is not verified).
 */
export function smtpReply(code: SmtpReplyCode, text?: string): SmtpReplyError {
  const entry = SMTP_REPLIES[code];
  return Object.assign(new Error(`${entry.status} ${text ?? entry.text}`), { responseCode: entry.reply, code });
}

export function isSmtpReply(err: unknown): err is SmtpReplyError {
  return err instanceof Error && typeof (err as { responseCode?: unknown }).responseCode === 'number';
}

export function smtpReplyMarkdown(): string {
  const rows = Object.entries(SMTP_REPLIES).map(
    ([code, e]) => `| \`${code}\` | ${e.reply} ${e.status} | ${e.text} | ${e.means} |`,
  );
  return [
    '## SMTP replies',
    '',
    "The errors Postlog's SMTP listeners answer with (submission on 587/465, the inbound MX on 25); the",
    'reply code and enhanced status code are what a client acts on. Where a reply names a detail (the line',
    'that is too long, the From domain that is not verified) its text says it instead of the one below.',
    'Replies of the protocol itself (syntax, command order, time-outs) come from the SMTP server library.',
    '',
    '| code | reply | text | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
