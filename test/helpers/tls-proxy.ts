import { connect, type AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { generate } from 'selfsigned';

/**
 * A TLS terminator on loopback in front of a plain TCP port, for clients that only speak HTTPS
 * (such as Postal's official Node client).
 */
export async function startTlsProxy(targetPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256' });
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (socket) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(socket).add(upstream);
    socket.pipe(upstream).pipe(socket);
    const end = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        // keep-alive connections would hold close() open until they time out
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  };
}
