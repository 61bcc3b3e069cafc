import { createServer, type Socket } from 'node:net';

export interface SilentServer {
  port: number;
  /** Connections it took (each a scan that waited for an answer). */
  connections(): number;
  stop(): Promise<void>;
}

/**
 * A "scanner" that takes the TCP connection, reads what it is sent and never answers: a daemon
 * that hangs. Only the caller's timeout ends the exchange.
 */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let taken = 0;
  // allowHalfOpen: the clients end their side once the request is sent; a hung daemon keeps its side open
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    taken++;
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the silent server has no TCP port');
  return {
    port: address.port,
    connections: () => taken,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
