/**
 * Whether a failed look-up is an answer: the name does not exist (NXDOMAIN) or has no record of the
 * type asked for. Anything else (a timeout, SERVFAIL, a refused query) is no answer: ask again later.
 */
export function isNoRecord(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}
