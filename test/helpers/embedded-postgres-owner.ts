/**
 * A process that owns an embedded PostgreSQL and does nothing else, for tests that kill it together
 * with its server (the server then becomes an orphan whose zombie only init reaps):
 * `node embedded-postgres-owner.js <dataDir> <port>` prints the connection URL once the server
 * accepts connections, then waits to be killed (SIGKILL) or stopped (SIGTERM).
 */
import { createLogger } from '../../infra/logging/index.js';
import { EmbeddedPostgres } from '../../infra/postgres/index.js';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) throw new Error('usage: embedded-postgres-owner <dataDir> <port>');
const server = new EmbeddedPostgres({
  dataDir,
  port: Number(port),
  logger: createLogger({ level: 'warn', format: 'json', fd: 2 }),
});
process.stdout.write(`${await server.start()}\n`);
// until killed; SIGTERM stops the server first, as Postlog would
const alive = setInterval(() => undefined, 60_000);
process.once('SIGTERM', () => {
  clearInterval(alive);
  void server.stop();
});
