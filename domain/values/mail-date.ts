/**
 * A date-time for a mail header (Date, Received, a DSN's Arrival-Date), in UTC with a numeric zone: the "GMT"
 * that `toUTCString` writes is obsolete syntax that RFC 5322 §4.3 says must not be generated.
 */
export const rfc5322Date = (d: Date): string => d.toUTCString().replace(/GMT$/, '+0000');
