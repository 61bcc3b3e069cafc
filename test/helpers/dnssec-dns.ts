import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createValidatingResolver } from '../../infra/dns/index.js';
import { freeUdpPort } from './dns-server.js';

/** A zone served by nsd: its origin and its records in zone-file syntax, names relative to the origin. */
export interface TestZone {
  origin: string;
  records: string[];
  /** Signed with ldns-signzone (its KSK becomes unbound's trust anchor); false: an unsigned (insecure) zone. */
  signed: boolean;
  /** Owner names (relative) whose RRSIGs are spoiled after signing, so they validate as bogus. */
  tamper?: string[];
}

export interface ValidatingDns {
  /** unbound's "127.0.0.1:port": validates with the test's trust anchors, forwards the test zones to nsd. */
  resolver: string;
  stop(): Promise<void>;
}

/** The Debian package a missing tool comes in, or undefined when nsd, unbound and ldns-signzone are all there. */
export function missingDnssecTool(): string | undefined {
  const tools: [string, string[], string][] = [
    ['nsd', ['-v'], 'nsd'],
    ['unbound', ['-V'], 'unbound'],
    ['ldns-signzone', ['-v'], 'ldnsutils'],
    ['ldns-keygen', ['-v'], 'ldnsutils'],
  ];
  const missing = tools.find(([bin, args]) => spawnSync(bin, args).error !== undefined);
  return missing?.[2];
}

/**
 * Authoritative nsd and validating unbound on loopback ports: the test's zones, some signed with
 * fresh keys (ldns-keygen, ldns-signzone), served by nsd; unbound asks nsd for them (stub zones),
 * trusts exactly the signed zones' KSKs (no root anchor) and sets the AD bit on what validates.
 */
export async function startValidatingDns(zones: TestZone[]): Promise<ValidatingDns> {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-dnssec-'));
  const nsdPort = await freeUdpPort();
  const unboundPort = await freeUdpPort();
  const anchors: string[] = [];
  for (const z of zones) {
    const file = join(dir, `${z.origin}.zone`);
    writeFileSync(
      file,
      [
        `$ORIGIN ${z.origin}.`,
        '$TTL 300',
        `@ IN SOA ns.${z.origin}. hostmaster.${z.origin}. 1 3600 600 86400 300`,
        `@ IN NS ns.${z.origin}.`,
        'ns IN A 127.0.0.1',
        ...z.records,
        '',
      ].join('\n'),
    );
    if (!z.signed) continue;
    const run = (bin: string, args: string[]) => {
      const r = spawnSync(bin, args, { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout.trim();
    };
    const ksk = run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', z.origin]);
    const zsk = run('ldns-keygen', ['-a', 'ECDSAP256SHA256', z.origin]);
    run('ldns-signzone', ['-f', `${file}.signed`, file, ksk, zsk]);
    anchors.push(
      readFileSync(join(dir, `${ksk}.ds`), 'utf8')
        .trim()
        .replace(/\s+/g, ' '),
    );
    if (z.tamper?.length) writeFileSync(`${file}.signed`, spoil(readFileSync(`${file}.signed`, 'utf8'), z));
  }
  writeFileSync(
    join(dir, 'nsd.conf'),
    [
      'server:',
      `  ip-address: 127.0.0.1@${nsdPort}`,
      `  port: ${nsdPort}`,
      '  username: ""',
      '  chroot: ""',
      `  zonesdir: "${dir}"`,
      '  database: ""',
      `  pidfile: "${dir}/nsd.pid"`,
      `  xfrdfile: "${dir}/xfrd.state"`,
      `  zonelistfile: "${dir}/zone.list"`,
      '  server-count: 1',
      'remote-control:',
      '  control-enable: no',
      ...zones.flatMap((z) => [
        'zone:',
        `  name: ${z.origin}`,
        `  zonefile: ${z.origin}.zone${z.signed ? '.signed' : ''}`,
      ]),
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'unbound.conf'),
    [
      'server:',
      `  interface: 127.0.0.1@${unboundPort}`,
      `  port: ${unboundPort}`,
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      `  pidfile: "${dir}/unbound.pid"`,
      '  logfile: ""',
      '  use-syslog: no',
      '  do-daemonize: no',
      '  do-not-query-localhost: no',
      '  module-config: "validator iterator"',
      '  access-control: 127.0.0.0/8 allow',
      '  num-threads: 1',
      // answers live as long as the test needs them, not longer: a changed zone is seen at once
      '  cache-max-ttl: 0',
      '  cache-max-negative-ttl: 0',
      // ".test" is one of unbound's locally served (empty) zones by default
      '  local-zone: "test." nodefault',
      ...anchors.map((a) => `  trust-anchor: "${a}"`),
      ...zones.flatMap((z) => ['stub-zone:', `  name: "${z.origin}"`, `  stub-addr: 127.0.0.1@${nsdPort}`]),
      'remote-control:',
      '  control-enable: no',
      '',
    ].join('\n'),
  );
  const nsd = daemon('nsd', ['-d', '-c', join(dir, 'nsd.conf')]);
  const unbound = daemon('unbound', ['-d', '-c', join(dir, 'unbound.conf')]);
  const stop = async () => {
    await Promise.all([nsd.stop(), unbound.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  // ready when unbound answers a question about the first zone through nsd
  const probe = createValidatingResolver(`127.0.0.1:${unboundPort}`, 300);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const failed = nsd.exited() ?? unbound.exited();
    if (failed) {
      await stop();
      throw new Error(failed);
    }
    const answer = await probe.query(zones[0]!.origin, 'MX').catch(() => undefined);
    if (answer && answer.rcode !== 2) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nsd/unbound did not answer: ${nsd.output()} ${unbound.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { resolver: `127.0.0.1:${unboundPort}`, stop };
}

function daemon(bin: string, args: string[]) {
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    output: () => output,
    exited: () => (child.exitCode !== null ? `${bin} exited: ${output}` : undefined),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The signed zone text with the named owners' RRSIG signatures changed (one base64 letter swapped). */
function spoil(signed: string, z: TestZone): string {
  const owners = new Set((z.tamper ?? []).map((n) => `${n}.${z.origin}.`.toLowerCase()));
  return signed
    .split('\n')
    .map((line) => {
      const fields = line.split(/\s+/);
      if (!owners.has(fields[0]!.toLowerCase()) || fields[3] !== 'RRSIG') return line;
      const sig = fields.at(-1)!;
      const i = Math.floor(sig.length / 2);
      fields[fields.length - 1] = sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1);
      return fields.join('\t');
    })
    .join('\n');
}
