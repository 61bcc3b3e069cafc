import { isAscii } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { coalesceWritesPerTick } from '../../infra/streams/writes-per-tick.js';
import { useFastDotStuffing } from './dot-stuffing.js';

export type TlsPolicy = 'opportunistic' | 'require' | 'none';

export interface SessionOptions {
  host: string;
  /** The MX name, for SNI. */
  servername: string;
  port: number;
  ehloName: string;
  tls: TlsPolicy;
  localAddress?: string | undefined;
  /** Implicit TLS (port 465 style), for smart hosts. */
  secure?: boolean;
  auth?: { user: string; pass: string } | undefined;
  /** CAs to verify the certificate against (Node's roots when unset). */
  ca?: string[] | undefined;
  /**
   * Connect even when the certificate does not verify, for the caller to judge it (MTA-STS reads
   * `tlsVerdict` before the first MAIL FROM). Unset: only required TLS refuses a bad certificate.
   */
  verifyAfterHandshake?: boolean;
  /** REQUIRETLS (RFC 8689): MAIL FROM carries it (nodemailer refuses to send without TLS or the server's support). */
  requireTlsExtension?: boolean;
}

export interface SmtpReply {
  code: number;
  enhancedCode?: string;
  text: string;
}

export type SendOutcome =
  | { ok: true; reply: SmtpReply }
  /** The server answered with a refusal (4xx or 5xx) for this message. */
  | { ok: false; kind: 'reply'; reply: SmtpReply }
  /** The connection broke or timed out: the outcome is unknown, so temporary. */
  | { ok: false; kind: 'connection'; error: string };

export function parseReply(response: string | undefined, fallbackCode?: number): SmtpReply {
  const text = (response ?? '').trim();
  const m = /^(\d{3})[ -]?(?:([245]\.\d{1,3}\.\d{1,3})\s+)?([\s\S]*)$/.exec(text);
  if (!m) return { code: fallbackCode ?? 451, text };
  return {
    code: Number(m[1]),
    ...(m[2] ? { enhancedCode: m[2] } : {}),
    text: m[3]!.replace(/\r?\n\d{3}[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?/g, ' ').trim(),
  };
}

/**
 * One SMTP connection to one host, carrying several messages (RSET between them), on
 * nodemailer's SMTP client: EHLO, opportunistic STARTTLS (or required, or never), SIZE, 8BITMIME,
 * PIPELINING as the server offers them, and RFC 5321 timeouts.
 */
export class SmtpSession {
  private readonly connection: SMTPConnection;
  /**
   * A transaction that did not end with the server's answer to the message (a refused sender or
   * recipient, a failed DATA) may leave envelope state behind: the next one starts with RSET.
   * After an accepted message the server has cleared it itself (RFC 5321 §4.1.1.4), so there is
   * no RSET round trip per message.
   */
  private dirty = false;
  readonly startedAt = performance.now();

  private constructor(
    connection: SMTPConnection,
    private readonly requireTlsExtension = false,
  ) {
    this.connection = connection;
  }

  static async open(o: SessionOptions): Promise<SmtpSession> {
    const connection = new SMTPConnection({
      host: o.host,
      port: o.port,
      servername: o.servername,
      name: o.ehloName,
      secure: o.secure ?? false,
      ignoreTLS: o.tls === 'none',
      requireTLS: o.tls === 'require',
      opportunisticTLS: o.tls === 'opportunistic',
      localAddress: o.localAddress,
      // MX hosts often present certificates for another name; opportunistic TLS still encrypts
      tls: {
        rejectUnauthorized: o.tls === 'require' && !o.verifyAfterHandshake,
        servername: o.servername,
        minVersion: 'TLSv1.2',
        ...(o.ca ? { ca: o.ca } : {}),
      },
      // RFC 5321 §4.5.3.2 suggests minutes; a busy MTA cannot wait that long for a dead peer
      connectionTimeout: 30_000,
      greetingTimeout: 60_000,
      socketTimeout: 300_000,
      allowInternalNetworkInterfaces: true,
      logger: false,
    });
    useFastDotStuffing(connection);
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => {
        connection.removeListener('error', reject);
        resolve();
      });
    });
    connection.on('error', () => undefined); // later errors arrive through the send callbacks
    const session = new SmtpSession(connection, o.requireTlsExtension === true);
    session.noDelay();
    if (o.auth) {
      try {
        await new Promise<void>((resolve, reject) =>
          connection.login({ credentials: o.auth! } as never, (err) => (err ? reject(err) : resolve())),
        );
      } catch (err) {
        connection.close();
        throw err;
      }
    }
    return session;
  }

  /** TLS protocol and cipher in use, or null for plain text. */
  get tls(): { protocol: string; cipher: string } | null {
    const socket = this.connection._socket as TLSSocket | false | null;
    if (!socket || !this.connection.secure || typeof socket.getProtocol !== 'function') return null;
    return { protocol: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher()?.name ?? 'unknown' };
  }

  /**
   * Whether the certificate verified (chained to a trusted CA, valid for the MX name), and Node's
   * reason when not; null for plain text.
   */
  get tlsVerdict(): { authorized: boolean; error?: string } | null {
    const socket = this.connection._socket as TLSSocket | false | null;
    if (!socket || !this.connection.secure || typeof socket.getProtocol !== 'function') return null;
    if (socket.authorized) return { authorized: true };
    const error = socket.authorizationError as unknown as Error | string | undefined;
    return { authorized: false, error: typeof error === 'string' ? error : (error?.message ?? 'unknown') };
  }

  /**
   * The certificates the server presented, its own first and then up its chain as it sent them
   * (DANE matches TLSA records against them); empty for plain text.
   */
  get peerChain(): X509Certificate[] {
    const socket = this.connection._socket as TLSSocket | false | null;
    if (!socket || !this.connection.secure || typeof socket.getPeerCertificate !== 'function') return [];
    const chain: X509Certificate[] = [];
    const seen = new Set<string>();
    for (let c = socket.getPeerCertificate(true); c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
      seen.add(c.fingerprint256);
      chain.push(new X509Certificate(c.raw));
    }
    return chain;
  }

  /** Whether the server's EHLO (after STARTTLS, if any) offered REQUIRETLS (RFC 8689). */
  get offersRequireTls(): boolean {
    const offered = (this.connection as unknown as { _supportedExtensions?: string[] })._supportedExtensions;
    return offered?.includes('REQUIRETLS') === true;
  }

  get localAddress(): string | undefined {
    const socket = this.connection._socket;
    return socket ? socket.localAddress : undefined;
  }

  get remoteAddress(): string | undefined {
    const socket = this.connection._socket;
    return socket ? socket.remoteAddress : undefined;
  }

  get usable(): boolean {
    return !this.connection.destroyed;
  }

  /**
   * No Nagle: a message goes out as several writes (body, then the final dot), and waiting for the
   * peer's delayed ACK between them costs ~40 ms per message.
   */
  private noDelay(): void {
    const socket = this.connection._socket as { setNoDelay?: (v: boolean) => void } | false | null;
    if (socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
  }

  /**
   * A message's body and its final dot are written separately: one system call (and on TLS one
   * record) instead of two when they leave in the same tick. The socket is replaced by STARTTLS,
   * so this is applied per message (applying it again changes nothing).
   */
  private coalesceWrites(): void {
    const socket = this.connection._socket as Writable | false | null;
    if (socket) coalesceWritesPerTick(socket);
  }

  async send(from: string, to: string, message: Buffer): Promise<SendOutcome> {
    this.noDelay(); // again: STARTTLS replaced the socket
    this.coalesceWrites();
    if (this.dirty) {
      const reset = await new Promise<Error | null>((resolve) => this.connection.reset((err) => resolve(err ?? null)));
      if (reset) return { ok: false, kind: 'connection', error: `RSET failed: ${reset.message}` };
      this.dirty = false;
    }
    // a byte with the high bit set needs 8BITMIME (isAscii is native: a JS loop over 100 KB cost ~80 µs)
    const eightBit = !isAscii(message);
    return new Promise((resolve) => {
      const envelope = {
        from,
        to: [to],
        size: message.length,
        use8BitMime: eightBit,
        ...(this.requireTlsExtension ? { requireTLSExtensionEnabled: true } : {}),
      };
      this.connection.send(envelope, message, (err, info) => {
        if (err) {
          this.dirty = true;
          const e = err as Error & {
            responseCode?: number;
            response?: string;
            code?: string;
            rejectedErrors?: { responseCode?: number; response?: string }[];
          };
          const rejected = e.rejectedErrors?.[0];
          const response = e.response ?? rejected?.response;
          const code = e.responseCode ?? rejected?.responseCode;
          if (code && response) return resolve({ ok: false, kind: 'reply', reply: parseReply(response, code) });
          return resolve({ ok: false, kind: 'connection', error: `${e.code ?? 'ERROR'}: ${e.message}` });
        }
        resolve({ ok: true, reply: parseReply(info?.response, 250) });
      });
    });
  }

  close(): void {
    if (!this.connection.destroyed) this.connection.quit();
  }
}
