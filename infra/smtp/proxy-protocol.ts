import { isIPv4, isIPv6 } from 'node:net';

/**
 * The PROXY protocol header (HAProxy's, v1 text and v2 binary) a load balancer sends before the
 * client's bytes, naming the client it accepted. smtp-server reads v1 only, so both are read here.
 * https://www.haproxy.org/download/3.0/doc/proxy-protocol.txt
 */
export type ProxyHeader =
  /** More bytes are needed to decide. */
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  /**
   * `length` bytes are the header. `client` is absent for a connection the proxy made itself (v2
   * LOCAL, a health check) or one it cannot describe (v1 UNKNOWN, v2 UNSPEC or UNIX): the peer's
   * own address stands then.
   */
  | { kind: 'header'; version: 1 | 2; length: number; client?: { address: string; port: number } };

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v1's longest line, CRLF included. */
const V1_MAX = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Room for the addresses and the TLVs proxies add (TLS details, AWS/Azure ids): far more than any sends. */
const V2_MAX = 16 + 4096;

/** Reads the header at the start of `bytes` (everything the peer has sent so far). */
export function readProxyHeader(bytes: Buffer): ProxyHeader {
  if (startsWith(bytes, V1_PREFIX)) return readV1(bytes);
  if (startsWith(bytes, V2_SIGNATURE)) return readV2(bytes);
  return { kind: 'invalid', reason: 'the connection does not start with a PROXY protocol header' };
}

/** Whether `bytes` starts with `prefix`, or is too short to tell yet (then a prefix of it). */
function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  const n = Math.min(bytes.length, prefix.length);
  return bytes.subarray(0, n).equals(prefix.subarray(0, n));
}

function readV1(bytes: Buffer): ProxyHeader {
  const end = bytes.subarray(0, V1_MAX).indexOf('\r\n');
  if (end === -1)
    return bytes.length >= V1_MAX
      ? { kind: 'invalid', reason: `a v1 header is at most ${V1_MAX} bytes` }
      : { kind: 'incomplete' };
  const length = end + 2;
  const fields = bytes.subarray(0, end).toString('latin1').split(' ');
  if (fields[1] === 'UNKNOWN') return { kind: 'header', version: 1, length };
  const [, protocol, source, destination, sourcePort, destinationPort, ...extra] = fields;
  const isAddress = protocol === 'TCP4' ? isIPv4 : protocol === 'TCP6' ? isIPv6 : undefined;
  if (!isAddress) return { kind: 'invalid', reason: 'a v1 header names TCP4, TCP6 or UNKNOWN' };
  if (extra.length > 0 || !isAddress(source ?? '') || !isAddress(destination ?? ''))
    return { kind: 'invalid', reason: `a v1 ${protocol} header names two ${protocol} addresses and two ports` };
  const port = portOf(sourcePort);
  if (port === undefined || portOf(destinationPort) === undefined)
    return { kind: 'invalid', reason: 'a v1 port is a number from 0 to 65535' };
  return { kind: 'header', version: 1, length, client: { address: source!, port } };
}

function portOf(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function readV2(bytes: Buffer): ProxyHeader {
  if (bytes.length < 16) return { kind: 'incomplete' };
  const version = bytes[12]! >> 4;
  const command = bytes[12]! & 0x0f;
  if (version !== 2) return { kind: 'invalid', reason: `PROXY protocol version ${version} (2 expected)` };
  if (command > 1) return { kind: 'invalid', reason: `unknown v2 command ${command}` };
  const length = 16 + bytes.readUInt16BE(14);
  if (length > V2_MAX) return { kind: 'invalid', reason: `a v2 header of ${length} bytes is too long` };
  if (bytes.length < length) return { kind: 'incomplete' };
  const family = bytes[13]! >> 4;
  // LOCAL: the proxy's own connection (a health check), whatever addresses it carries
  if (command === 0 || family === 0 || family === 3) return { kind: 'header', version: 2, length };
  const body = bytes.subarray(16, length);
  if (family === 1) {
    if (body.length < 12) return { kind: 'invalid', reason: 'a v2 IPv4 header holds 12 bytes of addresses' };
    return {
      kind: 'header',
      version: 2,
      length,
      client: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8) },
    };
  }
  if (family === 2) {
    if (body.length < 36) return { kind: 'invalid', reason: 'a v2 IPv6 header holds 36 bytes of addresses' };
    return {
      kind: 'header',
      version: 2,
      length,
      client: { address: ipv6Text(body.subarray(0, 16)), port: body.readUInt16BE(32) },
    };
  }
  return { kind: 'invalid', reason: `unknown v2 address family ${family}` };
}

/** RFC 5952 text of 16 bytes: lower case, leading zeros dropped, the longest run of zero groups as ::. */
export function ipv6Text(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return `::ffff:${[...bytes.subarray(12, 16)].join('.')}`;
  let best = { at: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { at: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at === -1) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}
