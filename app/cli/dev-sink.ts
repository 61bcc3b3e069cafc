import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';
import { listenProblem, PortsUnavailable } from '../listen-ports.js';

export interface DevSinkOptions {
  host: string;
  port: number;
  /** Each message is stored here as a .eml file too. */
  dir?: string | undefined;
  /** Where the one line per message goes. */
  print: (line: string) => void;
}

export interface DevSink {
  port: number;
  close(): Promise<void>;
}

/** Messages of up to this size are accepted: a try-out sends nothing larger than Postlog's own limit. */
const MAX_BYTES = 100 * 1024 * 1024;

/**
 * `postlog dev-sink`: an SMTP server that accepts every message (any sender, any recipient, any
 * login, no TLS) and prints one line for each, so Postlog can deliver for real on one machine with
 * the sink as its smart host. Loopback only unless told otherwise: it relays nothing and checks
 * nothing, so it must not be reachable from elsewhere.
 */
export async function startDevSink(options: DevSinkOptions): Promise<DevSink> {
  if (options.dir) mkdirSync(options.dir, { recursive: true });
  let count = 0;
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true, // a smart host login (POSTLOG_SMART_HOST_USER) is taken as it comes
    disabledCommands: ['STARTTLS'],
    onAuth: (auth, _session, callback) => callback(null, { user: auth.username ?? 'anyone' }),
    size: MAX_BYTES,
    logger: false,
    disableReverseLookup: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const n = ++count;
        void describe(raw).then(({ subject, from: header }) => {
          // the From header a person recognises; the envelope's (a bounce address) when there is none
          const from = header ?? (session.envelope.mailFrom ? session.envelope.mailFrom.address : '');
          const to = session.envelope.rcptTo.map((r) => r.address).join(', ');
          let file = '';
          if (options.dir) {
            file = join(options.dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${n}.eml`);
            writeFileSync(file, raw);
          }
          options.print(
            `from <${from}> to ${to}: ${JSON.stringify(subject)} (${raw.length} bytes)${file ? ` → ${file}` : ''}`,
          );
          callback(null, `Message accepted by postlog dev-sink (#${n})`);
        });
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PortsUnavailable([
          listenProblem(
            { what: 'SMTP', host: options.host, port: options.port, portSetting: '--port', hostSetting: '--host' },
            err,
          ),
        ]),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  server.on('error', () => undefined); // a client's broken connection is no reason to stop
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The message's From address and Subject, decoded; a message that cannot be parsed has neither. */
async function describe(raw: Buffer): Promise<{ subject: string; from?: string | undefined }> {
  try {
    const parsed = await PostalMime.parse(raw);
    return { subject: parsed.subject ?? '', from: parsed.from?.address };
  } catch {
    return { subject: '' };
  }
}
