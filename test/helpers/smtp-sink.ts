import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { generate } from 'selfsigned';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
  tlsProtocol?: string;
  /** The client's address and EHLO name. */
  remoteAddress: string;
  ehlo: string;
  /** MAIL FROM's BODY parameter (8BITMIME), when the client sent one. */
  body?: string;
  /** MAIL FROM carried REQUIRETLS (RFC 8689; only a sink started with `requireTls` takes it). */
  requireTls?: boolean;
}

/** What the sink answers for a recipient: accept, or a reply code and text. */
export type Behaviour = 'accept' | { code: number; text: string } | 'drop-during-data';

export interface SmtpSink {
  host: string;
  port: number;
  received: ReceivedMail[];
  /** Per-recipient behaviour (default: accept). Changing it later affects later sessions. */
  behaviours: Map<string, Behaviour>;
  /** How many sessions (connections) were opened. */
  sessions: () => number;
  close(): Promise<void>;
}

function bodyParameter(session: SMTPServerSession): { body?: string } {
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  return args && typeof args.BODY === 'string' ? { body: args.BODY } : {};
}

/** A receiving SMTP server on a loopback address, built on smtp-server, with STARTTLS. */
export async function startSmtpSink(
  host: string,
  port: number,
  options: {
    tls?: boolean;
    greeting421?: () => boolean;
    /** Count messages and keep only the first (a sample to check, e.g. for a DKIM signature): for load. */
    countOnly?: boolean;
    /** Wait this long before answering the end of DATA (a slow server); a function is asked per message. */
    replyDelayMs?: number | (() => number);
    /** Called when a message's data is complete, before the answer. */
    onDataComplete?: (rcpts: string[]) => void;
    /** Require AUTH with these credentials (also without TLS: a test peer). */
    auth?: { user: string; pass: string };
    /** The STARTTLS certificate (e.g. signed by a test CA); default: a self-signed one for `host`. */
    certificate?: { key: string; cert: string };
    /** Offer REQUIRETLS (RFC 8689) after STARTTLS, as smtp-server does when asked. */
    requireTls?: boolean;
  } = {},
): Promise<SmtpSink & { count: () => number }> {
  let count = 0;
  const received: ReceivedMail[] = [];
  const behaviours = new Map<string, Behaviour>();
  let sessions = 0;
  const pems =
    options.tls === false
      ? undefined
      : options.certificate
        ? { private: options.certificate.key, cert: options.certificate.cert }
        : await generate([{ name: 'commonName', value: host }], { keyType: 'ec', algorithm: 'sha256' });
  const server = new SMTPServer({
    ...(pems ? { key: pems.private, cert: pems.cert } : { disabledCommands: ['STARTTLS'] }),
    authOptional: !options.auth,
    allowInsecureAuth: true,
    disabledCommands: [...(options.auth ? [] : ['AUTH']), ...(pems ? [] : ['STARTTLS'])],
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass)
        return callback(null, { user: auth.username });
      callback(Object.assign(new Error('Invalid credentials'), { responseCode: 535 }));
    },
    size: 50 * 1024 * 1024,
    hideREQUIRETLS: options.requireTls !== true,
    logger: false,
    disableReverseLookup: true,
    onConnect(_session, callback) {
      sessions++;
      if (options.greeting421?.())
        return callback(Object.assign(new Error('Too many connections, try again later'), { responseCode: 421 }));
      callback();
    },
    onRcptTo(address, _session, callback) {
      const b = behaviours.get(address.address.toLowerCase()) ?? 'accept';
      if (typeof b === 'object') return callback(Object.assign(new Error(b.text), { responseCode: b.code }));
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const rcpts = session.envelope.rcptTo.map((r) => r.address);
      const drop = rcpts.some((r) => behaviours.get(r.toLowerCase()) === 'drop-during-data');
      const chunks: Buffer[] = [];
      let seen = 0;
      stream.on('data', (c: Buffer) => {
        chunks.push(c);
        seen += c.length;
        // hang up in the middle of the message, as a crashing server would
        if (drop && seen > 100) (session as unknown as { _socket?: { destroy(): void } })._socket?.destroy?.();
      });
      stream.on('end', async () => {
        options.onDataComplete?.(rcpts);
        const delayMs = typeof options.replyDelayMs === 'function' ? options.replyDelayMs() : options.replyDelayMs;
        if (delayMs) {
          await new Promise((r) => setTimeout(r, delayMs));
          // a client that vanished before our answer never learnt the message was taken: a real
          // server would still deliver it, but then no MTA can avoid a duplicate, so it is not counted
          const conn = [
            ...(
              server as unknown as { connections: Set<{ session: SMTPServerSession; _socket: { destroyed: boolean } }> }
            ).connections,
          ].find((c) => c.session.id === session.id);
          if (!conn || conn._socket.destroyed) return;
        }
        if (drop) {
          const socket = (
            server as unknown as { connections: Set<{ session: SMTPServerSession; _socket: { destroy(): void } }> }
          ).connections;
          for (const c of socket) if (c.session.id === session.id) c._socket.destroy();
          return;
        }
        count++;
        if (options.countOnly && received.length > 0) return callback(null, 'Message queued as test');
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: rcpts,
          raw: Buffer.concat(chunks),
          secure: session.secure,
          remoteAddress: session.remoteAddress,
          ehlo: session.hostNameAppearsAs,
          ...bodyParameter(session),
          ...(session.envelope.requireTLS ? { requireTls: true } : {}),
          ...(session.secure
            ? {
                tlsProtocol: (session as unknown as { tlsOptions?: { version?: string } }).tlsOptions?.version ?? 'TLS',
              }
            : {}),
        });
        callback(null, 'Message queued as test');
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.on('error', () => undefined);
  return {
    host,
    port,
    received,
    behaviours,
    sessions: () => sessions,
    count: () => count,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
