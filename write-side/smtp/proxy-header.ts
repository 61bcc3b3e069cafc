import { randomBytes } from 'node:crypto';
import { BlockList, isIPv4, type Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { parseCidr } from '../../domain/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { readProxyHeader } from '../../infra/smtp/proxy-protocol.js';

/** What smtp-server's connection takes from the step before the SMTP session (its socketOptions). */
interface ConnectionOptions {
  id: string;
  remoteAddress?: string;
  remotePort?: number;
}
type HandleProxy = (socket: Socket, callback: (err: Error | null, options?: ConnectionOptions) => void) => void;

/** The peers trusted to send a PROXY header (POSTLOG_SMTP_PROXY_FROM, CIDR ranges the config checked). */
export function proxyAllowList(ranges: string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const parsed = parseCidr(range);
    if (!parsed.ok) throw new Error(`POSTLOG_SMTP_PROXY_FROM: ${range} ${parsed.error}`);
    list.addSubnet(parsed.value.address, parsed.value.prefix, parsed.value.family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** Whether a peer (as the socket names it: ::ffff:a.b.c.d on a dual-stack listener) is in the list. */
export function isListed(list: BlockList, peer: string | undefined): boolean {
  const address = (peer ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/**
 * Reads the PROXY protocol (v1 and v2) on a submission listener: a connection from an allowed
 * proxy must start with a header, and the client it names is the session's remoteAddress (which
 * the login throttle, SMTP-IP credentials and the Received header use). Anyone else is taken as
 * a client; a PROXY header from them is refused by smtp-server's early-talker check (421 "You talk
 * too soon": the greeting waits 100 ms) or, on implicit TLS, fails the handshake.
 *
 * smtp-server's own `useProxy` reads v1 only, so this replaces the step it runs before each
 * session, `_handleProxy` (smtp-server 3.21): not a public API, hence the check that it exists.
 */
export function acceptProxyHeaders(server: SMTPServer, proxies: BlockList, log: Logger): void {
  const internals = server as unknown as { _handleProxy?: HandleProxy };
  if (typeof internals._handleProxy !== 'function')
    throw new Error('smtp-server has no _handleProxy any more: write-side/smtp/proxy-header.ts needs updating');
  internals._handleProxy = (socket, callback) => {
    // the id smtp-server would make: 80 random bits, base 32
    const id = BigInt(`0x${randomBytes(10).toString('hex')}`)
      .toString(32)
      .padStart(16, '0');
    if (!isListed(proxies, socket.remoteAddress)) {
      setImmediate(() => callback(null, { id }));
      return;
    }
    let buffered = Buffer.alloc(0);
    let finished = false;
    const finish = (err: Error | null, options?: ConnectionOptions) => {
      if (finished) return;
      finished = true;
      socket.off('readable', onReadable);
      socket.off('error', onEnd);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (err) {
        socket.on('error', () => undefined);
        socket.destroy();
      }
      callback(err, options);
    };
    const onEnd = () => finish(new Error('the proxy closed the connection before its PROXY header'));
    const onReadable = () => {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
        buffered = Buffer.concat([buffered, chunk]);
        const header = readProxyHeader(buffered);
        if (header.kind === 'incomplete') continue;
        if (header.kind === 'invalid') {
          log.warn({ proxy: socket.remoteAddress, reason: header.reason }, 'PROXY header refused: connection closed');
          return finish(new Error(header.reason));
        }
        // what follows the header is the client's: SMTP, or the TLS handshake on implicit TLS
        if (buffered.length > header.length) socket.unshift(buffered.subarray(header.length));
        return finish(
          null,
          header.client ? { id, remoteAddress: header.client.address, remotePort: header.client.port } : { id },
        );
      }
    };
    socket.on('readable', onReadable);
    socket.on('error', onEnd);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  };
}
