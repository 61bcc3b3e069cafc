import { createServer } from 'node:net';

/** Ports this process has handed out: a port is given once, so two settings of one test never share one. */
const given = new Set<number>();

/** A TCP port on loopback that nothing listens on right now (and that this process has not handed out before). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
