import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { decodeResponse, encodeQuery, type DnsResponse, type QueryType } from './dns-wire.js';

/**
 * Questions to a DNSSEC-validating resolver (POSTLOG_DANE_RESOLVER) whose answers keep the AD bit:
 * DANE believes a record only when that resolver vouches for it. The resolver must be one Postlog
 * trusts, reached over a path nobody can tamper with (loopback, or a private network): the AD bit
 * itself is not signed.
 */
export interface ValidatingResolver {
  query(name: string, type: QueryType): Promise<DnsResponse>;
}

/** "host:port" (or a bare host: port 53) as a resolver over UDP, with TCP when the answer is truncated. */
export function createValidatingResolver(server: string, timeoutMs = 5000): ValidatingResolver {
  const colon = server.lastIndexOf(':');
  const host = colon > 0 && !server.endsWith(']') ? server.slice(0, colon).replace(/^\[|\]$/g, '') : server;
  const port = colon > 0 ? Number(server.slice(colon + 1)) : 53;
  return {
    async query(name, type) {
      const id = randomInt(0, 0x10000);
      const question = encodeQuery(id, name, type);
      let answer = await overUdp(host, port, question, id, timeoutMs).catch(() =>
        // one more try: a lost datagram is not a failed look-up
        overUdp(host, port, question, id, timeoutMs),
      );
      if (answer.truncated) answer = await overTcp(host, port, question, id, timeoutMs);
      return answer;
    },
  };
}

function overUdp(host: string, port: number, question: Buffer, id: number, timeoutMs: number): Promise<DnsResponse> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => done(new Error(`no answer from ${host}:${port} in ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | null, answer?: DnsResponse) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    socket.on('error', (err) => done(err));
    socket.on('message', (msg) => {
      try {
        const answer = decodeResponse(msg);
        if (answer.id === id) done(null, answer); // a stray datagram with another id is not ours
      } catch (err) {
        done(err as Error);
      }
    });
    socket.send(question, port, host);
  });
}

function overTcp(host: string, port: number, question: Buffer, id: number, timeoutMs: number): Promise<DnsResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${host}:${port} over TCP`)));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
      socket.end();
      try {
        const answer = decodeResponse(received.subarray(2, 2 + received.readUInt16BE(0)));
        if (answer.id !== id) throw new Error('DNS answer over TCP with another id');
        resolve(answer);
      } catch (err) {
        reject(err as Error);
      }
    });
    const length = Buffer.alloc(2);
    length.writeUInt16BE(question.length, 0);
    socket.write(Buffer.concat([length, question]));
  });
}
