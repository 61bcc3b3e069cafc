import dnsPacket from 'dns-packet';

/**
 * The DNS messages DANE exchanges with its validating resolver, encoded and decoded by dns-packet: a
 * query with EDNS0's DO bit and the AD bit set (RFC 6840 §5.7: a non-validating client asks for the
 * AD bit that way), and an answer read for its header flags and its MX, TLSA and CNAME records.
 * Node's dns module cannot be used: it hides the AD bit.
 */

export type QueryType = 'MX' | 'TLSA';

/** RFC 1035 / 6895 response codes the callers tell apart. */
export const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as const;

export type DnsRecord =
  | { type: 'MX'; name: string; preference: number; exchange: string }
  | { type: 'TLSA'; name: string; usage: number; selector: number; matchingType: number; data: Buffer }
  | { type: 'CNAME'; name: string; target: string }
  | { type: 'other'; name: string; rrtype: string };

export interface DnsResponse {
  id: number;
  rcode: number;
  /** Authenticated Data: the (trusted) validating resolver found the whole answer secure. */
  authenticated: boolean;
  truncated: boolean;
  answers: DnsRecord[];
}

/** A query for `name`/`type` with RD, AD and EDNS0 (DO bit, 1232-byte UDP payload). */
export function encodeQuery(id: number, name: string, type: QueryType): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
    questions: [{ type, name: name.replace(/\.$/, ''), class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: dnsPacket.DNSSEC_OK,
        flag_do: true,
        options: [],
      },
    ],
  });
}

/** An answer; throws on a message that is cut short or malformed. */
export function decodeResponse(msg: Buffer): DnsResponse {
  const packet = dnsPacket.decode(msg);
  return {
    id: packet.id ?? 0,
    // dns-packet names the rcode; the callers compare RFC numbers, which are the flags' low four bits
    rcode: (packet.flags ?? 0) & 0x000f,
    authenticated: packet.flag_ad,
    truncated: packet.flag_tc,
    answers: (packet.answers ?? []).map(toRecord),
  };
}

function toRecord(a: dnsPacket.Answer): DnsRecord {
  const name = a.name.toLowerCase().replace(/\.$/, '');
  switch (a.type) {
    case 'MX':
      return { type: 'MX', name, preference: a.data.preference ?? 0, exchange: a.data.exchange.toLowerCase() };
    case 'CNAME':
      return { type: 'CNAME', name, target: a.data.toLowerCase() };
    case 'TLSA':
      return {
        type: 'TLSA',
        name,
        usage: a.data.usage,
        selector: a.data.selector,
        matchingType: a.data.matchingType,
        data: Buffer.from(a.data.certificate),
      };
    default:
      return { type: 'other', name, rrtype: a.type };
  }
}
