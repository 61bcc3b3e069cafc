import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/** Reads SMTP replies off a socket: each call gives the next complete reply (its last line, `NNN text`). */
function replyReader(socket: Socket | TLSSocket): () => Promise<string> {
  let buffer = '';
  const waiting: ((reply: string) => void)[] = [];
  const replies: string[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    for (let i = buffer.indexOf('\r\n'); i !== -1; i = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (/^\d{3} /.test(line)) {
        const w = waiting.shift();
        if (w) w(line);
        else replies.push(line);
      }
    }
  });
  return () =>
    replies.length > 0 ? Promise.resolve(replies.shift()!) : new Promise((resolve) => waiting.push(resolve));
}

/**
 * A raw SMTP session on loopback, for bytes a client library would repair: `say` sends a command
 * (or, for DATA's content, bytes as given) and answers the server's next reply.
 */
export async function smtpSession<T>(
  o: { port: number; tls: boolean; localAddress?: string; proxyHeader?: Buffer },
  run: (say: (line: string | Buffer) => Promise<string>) => Promise<T>,
): Promise<T> {
  const socket =
    o.localAddress || o.proxyHeader
      ? proxiedSocket({ ...o, proxyHeader: o.proxyHeader })
      : o.tls
        ? tlsConnect({ host: '127.0.0.1', port: o.port, rejectUnauthorized: false })
        : netConnect(o.port, '127.0.0.1');
  const next = replyReader(socket);
  try {
    assert.match(await next(), /^220 /);
    return await run(async (line) => {
      socket.write(typeof line === 'string' ? `${line}\r\n` : line);
      return next();
    });
  } finally {
    socket.end('QUIT\r\n');
  }
}

/**
 * A connection from a chosen loopback address that first sends `proxyHeader` (the PROXY protocol,
 * as a load balancer does), then speaks SMTP, over TLS from the start when `tls`.
 */
export function proxiedSocket(o: {
  port: number;
  tls: boolean;
  localAddress?: string | undefined;
  proxyHeader?: Buffer | undefined;
}): Socket | TLSSocket {
  const raw = netConnect({
    port: o.port,
    host: '127.0.0.1',
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
  if (o.proxyHeader) raw.write(o.proxyHeader);
  return o.tls ? tlsConnect({ socket: raw, rejectUnauthorized: false }) : raw;
}

/** The first reply a connection gets (its greeting, or a refusal), and whether the server then closed it. */
export async function firstReply(socket: Socket | TLSSocket): Promise<{ reply: string; closed: boolean }> {
  const next = replyReader(socket);
  const closed = new Promise<boolean>((resolve) => {
    socket.once('close', () => resolve(true));
    socket.on('error', () => undefined);
  });
  const reply = await Promise.race([next(), closed.then(() => '(closed without a reply)')]);
  const wasClosed = await Promise.race([closed, new Promise<boolean>((r) => setTimeout(() => r(false), 1500))]);
  socket.destroy();
  return { reply, closed: wasClosed };
}

/** One message, its DATA bytes exactly as given. Returns the answer to the end of DATA. */
export async function smtpRaw(o: {
  port: number;
  tls: boolean;
  auth?: { user: string; pass: string };
  from: string;
  to: string;
  data: Buffer;
}): Promise<string> {
  return smtpSession(o, async (say) => {
    const expect = async (line: string, pattern: RegExp) => {
      const reply = await say(line);
      assert.match(reply, pattern, `${line} → ${reply}`);
    };
    await expect('EHLO client.test', /^250 /);
    if (o.auth)
      await expect(`AUTH PLAIN ${Buffer.from(`\0${o.auth.user}\0${o.auth.pass}`).toString('base64')}`, /^235 /);
    await expect(`MAIL FROM:<${o.from}>`, /^250 /);
    await expect(`RCPT TO:<${o.to}>`, /^250 /);
    await expect('DATA', /^354 /);
    return say(Buffer.concat([o.data, Buffer.from('\r\n.\r\n')]));
  });
}
