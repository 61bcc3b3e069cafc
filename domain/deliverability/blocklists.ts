import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { createEventCodec, type EventUnion } from '../events/codec.js';

/**
 * Blocklist (DNSBL) monitoring of our sending IPs and domains (docs/deliverability.md, "Blocklist
 * monitoring"): a target is looked up in each configured list; a change of its state on a list is
 * an event in the stream of that (target, list), so each listing and delisting is recorded once.
 */

const Timestamp = z.iso.datetime({ offset: true });

export const BlocklistTargetKind = z.enum(['ip', 'domain']);
export type BlocklistTargetKind = z.infer<typeof BlocklistTargetKind>;

const BlocklistChange = z.object({
  kind: BlocklistTargetKind,
  /** The IP address or the domain name. */
  target: z.string().min(1).max(253),
  /** The list's DNS zone, e.g. zen.spamhaus.org. */
  zone: z.string().min(1).max(253),
  /** The 127.0.0.x answers (the list's return codes; empty when delisted). */
  codes: z.array(z.string()).max(20),
  /** The list's TXT record: why, and where to ask for removal ('' when it gives none). */
  reason: z.string().max(1000),
  /** The servers that send from the target (the domain's; the servers of the IP's pool). */
  serverIds: z.array(z.string().min(1)).max(10_000),
  at: Timestamp,
});
export type BlocklistChange = z.infer<typeof BlocklistChange>;

export const blocklistEventCodec = createEventCodec({
  IpListed: { schema: BlocklistChange, schemaVersion: 1 },
  IpDelisted: { schema: BlocklistChange, schemaVersion: 1 },
  DomainListed: { schema: BlocklistChange, schemaVersion: 1 },
  DomainDelisted: { schema: BlocklistChange, schemaVersion: 1 },
});
export type BlocklistEvent = EventUnion<typeof blocklistEventCodec.definitions>;

export const BLOCKLIST_STREAM_PREFIX = 'blocklist-';
export const blocklistStreamId = (kind: BlocklistTargetKind, target: string, zone: string) =>
  `${BLOCKLIST_STREAM_PREFIX}${kind}-${target.toLowerCase()}@${zone.toLowerCase()}`;

/**
 * The name to look up: an IPv4 address's octets reversed (192.0.2.10 → 10.2.0.192.zone), an IPv6
 * address's 32 nibbles reversed (RFC 5782 §2.4), a domain as it is (domain lists, RFC 5782 §2.3).
 */
export function blocklistQueryName(kind: BlocklistTargetKind, target: string, zone: string): string {
  if (kind === 'domain') return `${target.toLowerCase().replace(/\.$/, '')}.${zone}`;
  if (isIPv4(target)) return `${target.split('.').reverse().join('.')}.${zone}`;
  if (!isIPv6(target)) throw new Error(`${target} is not an IP address`);
  const [head = '', tail = ''] = target.toLowerCase().split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const full = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((g) => g.padStart(4, '0')).join('');
  return `${full.split('').reverse().join('.')}.${zone}`;
}

export type BlocklistVerdict =
  | { state: 'listed'; codes: string[] }
  | { state: 'clean' }
  /** The list did not say (refused the query, answered nonsense, or did not answer): the state stays. */
  | { state: 'unknown'; why: string };

/**
 * What a list's A records mean (RFC 5782 §2.1): none (NXDOMAIN) is not listed; 127.0.0.x is
 * listed. 127.255.255.x is not a listing but Spamhaus's "query refused" (.252 a typo in the zone,
 * .254 a query through a public resolver, .255 too many queries): taken as listed, every IP would
 * look blocked the day the resolver is refused; taken as clean, a real listing would be lifted. The
 * state stays as it was, and the check says why. Anything outside 127.0.0.0/8 is a resolver that
 * rewrites NXDOMAIN, not the list: likewise unknown.
 */
export function blocklistVerdict(addresses: string[]): BlocklistVerdict {
  if (addresses.length === 0) return { state: 'clean' };
  if (addresses.some((a) => a.startsWith('127.255.255.')))
    return { state: 'unknown', why: `the list refused the query (${addresses.join(', ')})` };
  if (!addresses.every((a) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)))
    return { state: 'unknown', why: `answers outside 127.0.0.0/8 (${addresses.join(', ')}): not the list's` };
  return { state: 'listed', codes: [...addresses].sort() };
}

/** Whether a (target, list) is listed after its events. */
export const listedAfter = (history: BlocklistEvent[]) =>
  history.length > 0 && history[history.length - 1]!.type.endsWith('Listed');

/** The event a check records: one only when the state changed (an unknown answer changes nothing). */
export function decideBlocklist(
  listedBefore: boolean,
  verdict: BlocklistVerdict,
  change: Omit<BlocklistChange, 'codes'>,
): BlocklistEvent[] {
  const prefix = change.kind === 'ip' ? 'Ip' : 'Domain';
  if (verdict.state === 'listed' && !listedBefore)
    return [{ type: `${prefix}Listed`, data: { ...change, codes: verdict.codes } }];
  if (verdict.state === 'clean' && listedBefore)
    return [{ type: `${prefix}Delisted`, data: { ...change, codes: [], reason: '' } }];
  return [];
}
