import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { freePort } from './ports.js';

export interface DnsZone {
  /** domain → [mx host, preference] */
  mx?: [string, string, number][];
  /** host → IPv4 */
  a?: [string, string][];
  txt?: [string, string][];
  /** alias → target; dnsmasq answers a CNAME only for a target it knows (give it an `a` record) */
  cname?: [string, string][];
  /** domains with a null MX (RFC 7505) */
  nullMx?: string[];
  /** domains answered only from these records (other names: NXDOMAIN, other types: no data) */
  local?: string[];
  /** domains that do not exist */
  nxdomain?: string[];
  /** domains whose lookups fail (SERVFAIL) */
  servfail?: string[];
}

export interface DnsServer {
  port: number;
  address: string;
  stop(): Promise<void>;
}

export function dnsmasqAvailable(): boolean {
  return spawnSync('dnsmasq', ['--version']).status === 0;
}

export async function freeUdpPort(): Promise<number> {
  // free for TCP too: a DNS server (dnsmasq, unbound, nsd) listens on both
  for (;;) {
    const port = await freePort();
    const s = createSocket('udp4');
    const bound = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.bind(port, '127.0.0.1', () => r(true));
    });
    await new Promise<void>((r) => (bound ? s.close(() => r()) : r()));
    if (bound) return port;
  }
}

/** TXT strings are at most 255 bytes: long values (DKIM keys) go as several strings. */
const txtArg = (name: string, value: string) => `--txt-record=${name},${(value.match(/.{1,250}/g) ?? ['']).join(',')}`;

/**
 * A real DNS server (Debian's dnsmasq) on loopback, serving exactly the given records. dnsmasq takes
 * the port for TCP as well as UDP: a port free for UDP may be another test's TCP listener's by the
 * time dnsmasq binds it (it then exits, "Address already in use"), so another port is tried.
 */
export async function startDnsServer(zone: DnsZone, fixedPort?: number): Promise<DnsServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDnsmasq(zone, fixedPort ?? (await freeUdpPort()));
    } catch (err) {
      if (fixedPort !== undefined || attempt >= 5 || !/in use/i.test((err as Error).message)) throw err;
    }
  }
}

/**
 * An upstream for dnsmasq that answers every query SERVFAIL at once (header and question, RCODE 2),
 * as a broken authoritative server does: without it dnsmasq forwards to a port nobody answers on
 * and the client waits for its own timeout.
 */
async function startServfailUpstream(): Promise<{ port: number; close(): Promise<void> }> {
  const socket = createSocket('udp4');
  socket.on('error', () => undefined); // a reply that cannot be sent is a lost answer, as on a real network
  socket.on('message', (query, from) => {
    if (query.length < 12) return;
    let end = 12;
    while (end < query.length && query[end] !== 0) end += query[end]! + 1;
    const reply = Buffer.from(query.subarray(0, Math.min(query.length, end + 5)));
    reply[2] = 0x80 | (query[2]! & 0x79); // a response, the query's opcode and RD
    reply[3] = 0x80 | 2; // RA, SERVFAIL
    reply.writeUInt16BE(1, 4);
    reply.fill(0, 6, 12);
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  socket.unref();
  return { port: socket.address().port, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

async function startDnsmasq(zone: DnsZone, port: number): Promise<DnsServer> {
  const upstream = zone.servfail?.length ? await startServfailUpstream() : undefined;
  const args = [
    '--keep-in-foreground',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--conf-file=/dev/null',
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    `--port=${port}`,
    '--cache-size=0',
    '--log-facility=-',
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    ...(zone.mx ?? []).map(([domain, host, pref]) => `--mx-host=${domain},${host},${pref}`),
    ...(zone.a ?? []).map(([host, ip]) => `--host-record=${host},${ip}`),
    ...(zone.txt ?? []).map(([name, value]) => txtArg(name, value)),
    ...(zone.cname ?? []).map(([alias, target]) => `--cname=${alias},${target}`),
    ...(zone.nullMx ?? []).map((d) => `--dns-rr=${d},15,000000`),
    ...(zone.local ?? []).map((d) => `--local=/${d}/`),
    ...(zone.nxdomain ?? []).map((d) => `--address=/${d}/`),
    ...(zone.servfail ?? []).map((d) => `--server=/${d}/127.0.0.1#${upstream!.port}`),
  ];
  const child: ChildProcess = spawn('dnsmasq', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // ready when it answers a query
  const { Resolver } = await import('node:dns/promises');
  const probe = new Resolver({ timeout: 200, tries: 1 });
  probe.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await upstream?.close();
      throw new Error(`dnsmasq exited: ${output}`);
    }
    const ok = await probe.resolveMx('probe.invalid').then(
      () => true,
      (e: NodeJS.ErrnoException) => e.code !== 'ECONNREFUSED' && e.code !== 'ETIMEOUT',
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      await upstream?.close();
      throw new Error(`dnsmasq did not answer: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    address: `127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await upstream?.close();
    },
  };
}
