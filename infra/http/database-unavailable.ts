/**
 * Whether an error thrown while handling a request means PostgreSQL could not take it just now —
 * down, restarting, out of disk — rather than a fault in Postlog: then nothing was stored and the
 * client should retry (503), not be told "our own fault" (500). Found by the chaos run
 * (docs/testing.md#chaos-run): a send during a killed PostgreSQL or a full disk answered 500.
 */

/**
 * SQLSTATE classes 08 (connection exception) and 53 (insufficient resources: disk full, out of
 * memory, too many connections); 57P01–57P03 (shut down, crashed, starting up).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53)[0-9A-Z]{3}$|^57P0[123]$/;
/** the pool's own words for a connection lost or never made */
const UNAVAILABLE_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|\.s\.PGSQL\.\d+/;

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_SQLSTATE.test(code)) return true;
  // a refused connection while serving a request is a store that is down (PostgreSQL, or ClickHouse for
  // analytics), never the client's doing
  if (code === 'ECONNREFUSED') return true;
  return UNAVAILABLE_MESSAGE.test(error.message);
}
