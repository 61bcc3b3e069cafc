import { getDomain } from 'tldts';

/**
 * Well-known providers whose MX hosts live under a different registrable domain than the one
 * analysts know them by. Everything else is simply the MX host's registrable domain.
 */
const ROLLUPS: Record<string, string> = {
  'googlemail.com': 'google.com',
  'yahoodns.net': 'yahoo.com',
  'hotmail.com': 'outlook.com',
  'messaging.microsoft.com': 'outlook.com',
};

/**
 * The mailbox provider behind a delivery: the registrable domain (public-suffix aware) of the MX
 * host that took the message, e.g. aspmx.l.google.com → google.com,
 * example-com.mail.protection.outlook.com → outlook.com, mta7.am0.yahoodns.net → yahoo.com.
 * Grouping by MX rather than by recipient domain puts every Google Workspace domain under google.com.
 * An IP literal or a name without a registrable domain (a smart host called "relay") is its own
 * provider; no host at all gives '' (unknown).
 */
export function mailboxProvider(mxHost: string | undefined | null): string {
  const host = (mxHost ?? '')
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (host === '') return '';
  const registrable = getDomain(host, { allowPrivateDomains: false });
  if (!registrable) return host;
  return ROLLUPS[registrable] ?? registrable;
}
