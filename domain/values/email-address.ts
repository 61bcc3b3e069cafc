import addressparser from 'nodemailer/lib/addressparser';
import { err, ok, type Result } from '../result.js';

/** A mailbox: `address` is what goes in the envelope; `name` is the display name, if any. */
export interface Mailbox {
  address: string;
  name: string;
  /** The domain, lower-cased. */
  domain: string;
}

// Deliberately plain: RFC 5322 allows more, but nothing a recipient's server would accept.
const ADDRESS =
  /^[^\s@<>()[\]\\,;:"]+@([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+)$/i;

/** Parses one mailbox, "Name <a@b.example>" or "a@b.example". */
export function parseMailbox(input: string): Result<Mailbox, string> {
  if (/[\r\n]/.test(input)) return err('must not contain line breaks');
  return mailboxOf(input, addressparser(input.trim(), { flatten: true }));
}

/** The one mailbox of `input`, given what addressparser made of it (trimmed). */
function mailboxOf(input: string, parsed: ReturnType<typeof addressparser>): Result<Mailbox, string> {
  if (parsed.length !== 1 || !parsed[0]?.address) return err(`"${input}" is not an email address`);
  const { address, name } = parsed[0];
  // addressparser drops a source route ("<@a.test,@b.test:c@d.test>" gives c@d.test): what is
  // between the angle brackets must be the address itself
  const bracketed = /<([^<>]*)>\s*$/.exec(input);
  if (bracketed && bracketed[1]!.trim() !== address)
    return err(`"${input}" is not a plain address (source routes are not allowed)`);
  if (/^\[.*\]$/.test(address.slice(address.lastIndexOf('@') + 1)))
    return err(`"${address}": address literals (user@[IP]) are not allowed`);
  const match = ADDRESS.exec(address);
  if (!match || address.length > 254) return err(`"${address}" is not a valid email address`);
  const local = address.slice(0, address.lastIndexOf('@'));
  // "%" and "!" route mail through the receiving host to another (RFC 1123 5.2.16, UUCP bang paths)
  if (/[%!]/.test(local)) return err(`"${address}": "%" and "!" routing is not allowed`);
  const domain = match[1]!.toLowerCase();
  // top-level domains are never numeric: "root@127.0.0.1" or "x@127.1" names an IP, not a domain
  if (/^\d+$/.test(domain.slice(domain.lastIndexOf('.') + 1)))
    return err(`"${address}": the domain is an IP address, not a domain name`);
  return ok({ address, name: name ?? '', domain });
}

export interface RecipientOptions {
  /** user@[192.0.2.1] and user@[IPv6:…] are taken (an operator's choice); otherwise refused. */
  allowAddressLiterals?: boolean | undefined;
}

const LITERAL = /^([^\s@<>()[\]\\,;:"%!]+)@\[(?:ipv6:([0-9a-f:.]+)|(\d{1,3}(?:\.\d{1,3}){3}))\]$/i;

/**
 * Parses a recipient: a mailbox as `parseMailbox` takes it, or, where the operator allows them,
 * an address literal, whose `domain` is the bracketed literal lower-cased ("[192.0.2.1]").
 */
export function parseRecipient(input: string, options: RecipientOptions = {}): Result<Mailbox, string> {
  const mailbox = parseMailbox(input);
  if (mailbox.ok || !options.allowAddressLiterals) return mailbox;
  const parsed = addressparser(input.trim(), { flatten: true });
  const address = parsed.length === 1 ? parsed[0]!.address : undefined;
  const literal = address ? LITERAL.exec(address) : null;
  if (!address || !literal || address.length > 254) return mailbox;
  const ok4 = literal[3] === undefined || literal[3].split('.').every((n) => Number(n) <= 255);
  const ok6 = literal[2] === undefined || isIpv6(literal[2]);
  if (!ok4 || !ok6) return err(`"${address}": the address literal is not an IP address`);
  return ok({
    address,
    name: parsed[0]!.name ?? '',
    domain: address.slice(address.lastIndexOf('@') + 1).toLowerCase(),
  });
}

/** The IP address an address-literal domain ("[192.0.2.1]", "[ipv6:…]") names; undefined for a domain name. */
export function addressLiteralIp(domain: string): string | undefined {
  const m = /^\[(?:ipv6:)?([0-9a-f:.]+)\]$/i.exec(domain);
  return m ? m[1]!.toLowerCase() : undefined;
}

function isIpv6(text: string): boolean {
  try {
    return new URL(`http://[${text}]/`).hostname.length > 2;
  } catch {
    return false;
  }
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
  const from = headers.filter((h) => h.key.toLowerCase() === 'from');
  if (from.length !== 1)
    return err(from.length === 0 ? 'the message has no From header' : 'the message has more than one From header');
  const value = from[0]!.value;
  const trimmed = value.trim();
  const mailboxes = addressparser(trimmed, { flatten: true });
  // counted on the value as it is; parsed once when trimming changes nothing (the usual case)
  if ((trimmed === value ? mailboxes : addressparser(value, { flatten: true })).length !== 1)
    return err('the From header must name exactly one mailbox');
  if (/[\r\n]/.test(value)) return err('must not contain line breaks');
  return mailboxOf(value, mailboxes);
}
