import pg from 'pg';
import type { Logger } from '../logging/index.js';

// bigint columns (positions, revisions) as numbers: they stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** `settings`: server settings for this pool's sessions, e.g. { synchronous_commit: 'off' }. */
export function createPool(
  connectionString: string,
  size: number,
  logger: Logger,
  settings: Record<string, string> = {},
): pg.Pool {
  const options = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const pool = new pg.Pool({
    connectionString,
    max: size,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    ...(options ? { options } : {}),
  });
  // An idle client that loses its connection must not crash the process; the next query reconnects.
  // (pg attaches the whole client to the error: log what an operator can use)
  // pool.end() resolves before its sockets have closed; the server's goodbye is not news (a CLI
  // command that stops its embedded PostgreSQL right after printed a warning about it now and then)
  const ending = () => (pool as pg.Pool & { ending?: boolean }).ending === true;
  pool.on('error', (err: Error & { code?: string }) => {
    if (ending()) return;
    logger.warn({ code: err.code, error: err.message }, 'idle PostgreSQL connection failed');
  });
  // The pool listens for errors of idle clients only: a client's connection lost while its holder is
  // between two queries (the server died, e.g. mid-transaction) would crash the process with an
  // unhandled 'error' event. The holder learns of it at its next query, which fails and is handled there.
  pool.on('connect', (client) =>
    client.on('error', (err: Error & { code?: string }) => {
      if (ending()) return;
      logger.warn({ code: err.code, error: err.message }, 'PostgreSQL connection failed');
    }),
  );
  return pool;
}
