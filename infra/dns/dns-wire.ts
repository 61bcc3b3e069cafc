/**
 * The DNS wire format (RFC 1035 §4) for the few questions DANE asks: a query with EDNS0's DO bit
 * and the AD bit set (RFC 6840 §5.7: a non-validating client asks for the AD bit that way), and an
 * answer read for its header flags and its MX, TLSA and CNAME records. Node's dns module cannot be
 * used: it hides the AD bit. No DNS library is installed in this project, and these few records
 * do not need one.
 */

export const RRTYPE = { CNAME: 5, MX: 15, TLSA: 52, OPT: 41 } as const;
export type QueryType = 'MX' | 'TLSA';

/** RFC 1035 / 6895 response codes the callers tell apart. */
export const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as const;

export type DnsRecord =
  | { type: 'MX'; name: string; preference: number; exchange: string }
  | { type: 'TLSA'; name: string; usage: number; selector: number; matchingType: number; data: Buffer }
  | { type: 'CNAME'; name: string; target: string }
  | { type: 'other'; name: string; rrtype: number };

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
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100 | 0x0020, 2); // RD | AD
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  const question = Buffer.concat([encodeName(name), u16(RRTYPE[type]), u16(1)]);
  // OPT: root name, type 41, class = UDP payload size, TTL = ext-rcode 0, version 0, flags DO
  const opt = Buffer.concat([Buffer.from([0]), u16(RRTYPE.OPT), u16(1232), u16(0), u16(0x8000), u16(0)]);
  return Buffer.concat([header, question, opt]);
}

export function decodeResponse(msg: Buffer): DnsResponse {
  if (msg.length < 12) throw new Error('DNS answer shorter than its header');
  const flags = msg.readUInt16BE(2);
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let at = 12;
  for (let i = 0; i < qd; i++) at = readName(msg, at).end + 4;
  const answers: DnsRecord[] = [];
  for (let i = 0; i < an; i++) {
    const owner = readName(msg, at);
    at = owner.end;
    const rrtype = msg.readUInt16BE(at);
    const rdlength = msg.readUInt16BE(at + 8);
    const rdata = at + 10;
    if (rdata + rdlength > msg.length) throw new Error('DNS record runs past the end of the answer');
    answers.push(readRecord(msg, owner.name, rrtype, rdata, rdlength));
    at = rdata + rdlength;
  }
  return {
    id: msg.readUInt16BE(0),
    rcode: flags & 0x000f,
    authenticated: (flags & 0x0020) !== 0,
    truncated: (flags & 0x0200) !== 0,
    answers,
  };
}

function readRecord(msg: Buffer, name: string, rrtype: number, at: number, length: number): DnsRecord {
  if (rrtype === RRTYPE.MX)
    return { type: 'MX', name, preference: msg.readUInt16BE(at), exchange: readName(msg, at + 2).name };
  if (rrtype === RRTYPE.CNAME) return { type: 'CNAME', name, target: readName(msg, at).name };
  if (rrtype === RRTYPE.TLSA && length >= 3)
    return {
      type: 'TLSA',
      name,
      usage: msg[at]!,
      selector: msg[at + 1]!,
      matchingType: msg[at + 2]!,
      data: Buffer.from(msg.subarray(at + 3, at + length)),
    };
  return { type: 'other', name, rrtype };
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length > 63) throw new Error(`DNS label too long in ${name}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A (possibly compressed) name at `at`: its text, lower case without the final dot, and where it ends. */
function readName(msg: Buffer, at: number): { name: string; end: number } {
  const labels: string[] = [];
  let end = -1;
  let pos = at;
  for (let jumps = 0; jumps < 64; ) {
    if (pos >= msg.length) throw new Error('DNS name runs past the end of the answer');
    const len = msg[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { name: labels.join('.').toLowerCase(), end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1]!;
      jumps++;
      continue;
    }
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new Error('DNS name compression loops');
}
