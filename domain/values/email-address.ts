import { isIPv4, isIPv6 } from 'node:net';
import addressparser from 'nodemailer/lib/addressparser';
import { err, ok, type Result } from '../result.js';

/** A mailbox: `address` is what goes in the envelope; `name` is the display name, if any. */
export interface Mailbox {
  address: string;
  name: string;
  /** The domain, lower-cased. */
  domain: string;
}

// Deliberately plain (LOCAL_PART, DOMAIN_NAME below): RFC 5322 allows more, but nothing a
// recipient's server would accept.

/** Parses one mailbox, "Name <a@b.example>" or "a@b.example". */
export function parseMailbox(input: string): Result<Mailbox, string> {
  return parseRecipient(input);
}

export interface RecipientOptions {
  /**
   * Which address literals (user@[192.0.2.1], user@[IPv6:…]) are taken: those whose IP this
   * answers true for. Without it every literal is refused. The operator decides (configuration).
   */
  allowLiteral?: ((ip: string) => boolean) | undefined;
}

/**
 * Parses a recipient: a mailbox at a domain name, or an address literal where `allowLiteral`
 * takes its IP. A literal's `domain` is the bracketed IP in its one written form ("[192.0.2.1]",
 * "[ipv6:2001:db8::1]"): leading zeros (which some resolvers read as octal) are refused.
 */
export function parseRecipient(input: string, options: RecipientOptions = {}): Result<Mailbox, string> {
  // a CR, LF, NUL or other control character has no place in an address (and PostgreSQL refuses NUL)
  if (/[\x00-\x1f\x7f]/.test(input)) return err('must not contain line breaks or control characters');
  return recipientOf(input, addressparser(input.trim(), { flatten: true }), options);
}

/**
 * A comma-separated list of mailboxes ("a@x.test, \"Doe, B\" <b@y.test>", as the vendor APIs take them), each
 * checked as parseRecipient checks one; an empty list is an empty array.
 */
export function parseRecipientList(input: string, options: RecipientOptions = {}): Result<Mailbox[], string> {
  if (/[\x00-\x1f\x7f]/.test(input)) return err('must not contain line breaks or control characters');
  const list: Mailbox[] = [];
  for (const entry of addressparser(input.trim(), { flatten: true })) {
    if (!entry.address) return err(`"${entry.name}" is not an email address`);
    const m = recipientOf(entry.address, [{ address: entry.address, name: '' }], options);
    if (!m.ok) return m;
    list.push({ ...m.value, name: entry.name ?? '' });
  }
  return ok(list);
}

/** A mailbox as a header writes it: `"Name" <address>` (quotes and backslashes dropped from the name), or the address. */
export const mailboxHeader = (m: { address: string; name?: string | undefined }) =>
  m.name ? `"${m.name.replace(/["\\]/g, '')}" <${m.address}>` : m.address;

/** The one mailbox of `input`, given what addressparser made of it (trimmed). */
function recipientOf(
  input: string,
  parsed: ReturnType<typeof addressparser>,
  options: RecipientOptions,
): Result<Mailbox, string> {
  if (parsed.length !== 1 || !parsed[0]?.address) return err(`"${input}" is not an email address`);
  const { address, name } = parsed[0];
  // addressparser drops a source route ("<@a.test,@b.test:c@d.test>" gives c@d.test): what is
  // between the angle brackets must be the address itself
  const bracketed = /<([^<>]*)>\s*$/.exec(input);
  if (bracketed && bracketed[1]!.trim() !== address)
    return err(`"${input}" is not a plain address (source routes are not allowed)`);
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  if (at < 1 || address.length > 254 || !LOCAL_PART.test(local))
    return err(`"${address}" is not a valid email address`);
  // "%" and "!" route mail through the receiving host to another (RFC 1123 5.2.16, UUCP bang paths)
  if (/[%!]/.test(local)) return err(`"${address}": "%" and "!" routing is not allowed`);
  const domainPart = address.slice(at + 1);
  if (/^\[.*\]$/.test(domainPart)) return literalMailbox(address, local, domainPart, name ?? '', options);
  const match = DOMAIN_NAME.exec(domainPart);
  if (!match) return err(`"${address}" is not a valid email address`);
  const domain = domainPart.toLowerCase();
  // top-level domains are never numeric: "root@127.0.0.1" or "x@127.1" names an IP, not a domain
  if (/^\d+$/.test(domain.slice(domain.lastIndexOf('.') + 1)))
    return err(`"${address}": the domain is an IP address, not a domain name`);
  return ok({ address, name: name ?? '', domain });
}

const LOCAL_PART = /^[^\s@<>()[\]\\,;:"]+$/;
const DOMAIN_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

function literalMailbox(
  address: string,
  local: string,
  literal: string,
  name: string,
  options: RecipientOptions,
): Result<Mailbox, string> {
  if (!options.allowLiteral) return err(`"${address}": address literals (user@[IP]) are not allowed`);
  const inner = literal.slice(1, -1);
  const v6 = /^ipv6:/i.test(inner);
  const ip = v6 ? inner.slice(5).toLowerCase() : inner;
  if (v6 ? !isIPv6(ip) : !isIPv4(ip)) return err(`"${address}": the address literal is not an IP address`);
  if (!options.allowLiteral(ip)) return err(`"${address}": mail to this address literal is not allowed here`);
  const domain = v6 ? `[ipv6:${ip}]` : `[${ip}]`;
  return ok({ address: `${local}@${v6 ? `[IPv6:${ip}]` : `[${ip}]`}`, name, domain });
}

/** The IP address an address-literal domain ("[192.0.2.1]", "[ipv6:…]") names; undefined for a domain name. */
export function addressLiteralIp(domain: string): string | undefined {
  const m = /^\[(?:ipv6:)?([0-9a-f:.]+)\]$/i.exec(domain);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** The address in the form used for comparisons and suppression: local part kept, domain lower-cased. */
export function normalizedAddress(mailbox: Mailbox): string {
  const at = mailbox.address.lastIndexOf('@');
  return `${mailbox.address.slice(0, at)}@${mailbox.domain}`.toLowerCase();
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;

export function parseDomainName(input: string): Result<string, string> {
  const d = input.trim().toLowerCase().replace(/\.$/, '');
  return DOMAIN.test(d) ? ok(d) : err(`"${input}" is not a domain name`);
}

/**
 * The one From mailbox of a message's headers. Two From headers, or a From with several
 * mailboxes, are refused: a check of the first one only would let the others ride on a
 * signature of the verified domain.
 */
export function singleFromMailbox(headers: { key: string; value: string }[]): Result<Mailbox, string> {
  return singleMailboxOf(headers, 'From');
}

/**
 * The Sender mailbox of a message's headers, if it has one; like From, one header naming one
 * mailbox (RFC 5322 §3.6.2), or it is refused.
 */
export function senderMailbox(headers: { key: string; value: string }[]): Result<Mailbox | undefined, string> {
  return headers.some((h) => h.key.toLowerCase() === 'sender') ? singleMailboxOf(headers, 'Sender') : ok(undefined);
}

function singleMailboxOf(headers: { key: string; value: string }[], name: 'From' | 'Sender'): Result<Mailbox, string> {
  const found = headers.filter((h) => h.key.toLowerCase() === name.toLowerCase());
  if (found.length !== 1)
    return err(
      found.length === 0 ? `the message has no ${name} header` : `the message has more than one ${name} header`,
    );
  const value = found[0]!.value;
  if (/[\x00-\x1f\x7f]/.test(value)) return err('must not contain line breaks or control characters');
  const trimmed = value.trim();
  const mailboxes = addressparser(trimmed, { flatten: true });
  // counted on the value as it is; parsed once when trimming changes nothing (the usual case: this
  // runs for every submitted message)
  if ((trimmed === value ? mailboxes : addressparser(value, { flatten: true })).length !== 1)
    return err(`the ${name} header must name exactly one mailbox`);
  return recipientOf(value, mailboxes, {});
}
