import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function postfixAvailable(): boolean {
  return existsSync('/usr/sbin/postfix') && process.getuid?.() === 0;
}

export interface PostfixOptions {
  /** Address and port smtpd listens on. */
  host: string;
  port: number;
  /** Relay everything to this host:port (a smart host), e.g. to measure Postfix as an MTA. */
  relayTo?: { host: string; port: number };
  /** Receive mail for these domains into maildirs: known users, all others get 550 5.1.1. */
  receive?: { domain: string; users: string[]; tempfail?: Record<string, string> };
  /** transport_maps entries, e.g. { 'psrp.sender.test': 'smtp:[127.0.0.1]:2525' } */
  transports?: Record<string, string>;
  /** A milter every message passes through (e.g. OpenDKIM signing), as smtpd_milters names it: inet:host:port. */
  milter?: string;
}

export interface PostfixInstance {
  dir: string;
  /** The master process (its children are Postfix's smtpd, cleanup, qmgr, smtp…). */
  masterPid(): number | undefined;
  /** Messages delivered to a receiving user's maildir. */
  delivered(user: string): string[];
  log(): string;
  stop(): void;
}

/**
 * A private Postfix instance (Debian's package) with its own config, queue and log under a temp
 * dir, listening on one loopback address. Needs root, as Postfix does.
 */
export function startPostfix(o: PostfixOptions): PostfixInstance {
  const dir = mkdtempSync(join(tmpdir(), 'postfix-'));
  chmodSync(dir, 0o755);
  const conf = join(dir, 'conf');
  mkdirSync(conf);
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'mail'));
  const uid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'postfix'], { encoding: 'utf8' }));
  execFileSync('chown', ['postfix:postfix', join(dir, 'data'), join(dir, 'mail')]);

  const master = readFileSync('/etc/postfix/master.cf', 'utf8')
    .split('\n')
    .map((line) => {
      if (/^smtp\s+inet\s/.test(line)) return `${o.host}:${o.port} inet n - n - - smtpd`;
      // no chroot: the instance's files live outside /var/spool/postfix
      const m = /^(\S+\s+\S+\s+\S+\s+\S+\s+)y(\s.*)$/.exec(line);
      return m ? `${m[1]}n${m[2]}` : line;
    })
    .join('\n');
  writeFileSync(join(conf, 'master.cf'), master);
  const main = [
    'compatibility_level = 3.6',
    `queue_directory = ${join(dir, 'queue')}`,
    `data_directory = ${join(dir, 'data')}`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    // master.cf binds smtpd to the one address; Postfix only accepts interface addresses here
    'inet_interfaces = all',
    'inet_protocols = ipv4',
    'myhostname = postfix.test',
    'mydestination =',
    'mynetworks = 127.0.0.0/8',
    `maillog_file = ${join(dir, 'maillog')}`,
    `maillog_file_prefixes = ${dir}`,
    'smtp_tls_security_level = none',
    'smtpd_tls_security_level = none',
    'disable_dns_lookups = yes',
    'smtp_host_lookup = native',
    'smtpd_delay_reject = yes',
    'biff = no',
    'append_dot_mydomain = no',
    'default_destination_concurrency_limit = 50',
    'default_process_limit = 200',
    'smtpd_client_connection_count_limit = 0',
    'in_flow_delay = 0',
    ...(o.relayTo
      ? [`relayhost = [${o.relayTo.host}]:${o.relayTo.port}`, 'smtpd_relay_restrictions = permit_mynetworks, reject']
      : []),
  ];
  if (o.milter) main.push(`smtpd_milters = ${o.milter}`, 'milter_default_action = tempfail');
  if (o.transports) {
    writeFileSync(
      join(conf, 'transport'),
      `${Object.entries(o.transports)
        .map(([d, t]) => `${d} ${t}`)
        .join('\n')}\n`,
    );
    main.push(`transport_maps = texthash:${join(conf, 'transport')}`);
  }
  if (o.receive) {
    const users = o.receive.users.map((u) => `${u}@${o.receive!.domain} ${o.receive!.domain}/${u}/`).join('\n');
    writeFileSync(join(conf, 'vmailbox'), `${users}\n`);
    writeFileSync(
      join(conf, 'tempfail'),
      `${Object.entries(o.receive.tempfail ?? {})
        .map(([a, r]) => `${a} ${r}`)
        .join('\n')}\n`,
    );
    main.push(
      `virtual_mailbox_domains = ${o.receive.domain}`,
      `virtual_mailbox_maps = texthash:${join(conf, 'vmailbox')}`,
      `virtual_mailbox_base = ${join(dir, 'mail')}`,
      `virtual_uid_maps = static:${uid}`,
      `virtual_gid_maps = static:${gid}`,
      `smtpd_recipient_restrictions = check_recipient_access texthash:${join(conf, 'tempfail')}, reject_unauth_destination`,
      'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
      'unknown_virtual_mailbox_reject_code = 550',
    );
  }
  writeFileSync(join(conf, 'main.cf'), `${main.join('\n')}\n`);
  const run = (...args: string[]) => {
    const r = spawnSync('/usr/sbin/postfix', ['-c', conf, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`postfix ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  };
  run('check');
  run('start');
  return {
    dir,
    masterPid() {
      const file = join(dir, 'queue', 'pid', 'master.pid');
      return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
    },
    delivered(user: string) {
      const base = join(dir, 'mail', o.receive?.domain ?? '', user, 'new');
      return existsSync(base) ? readdirSync(base).map((f) => readFileSync(join(base, f), 'utf8')) : [];
    },
    log: () => (existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : ''),
    stop() {
      spawnSync('/usr/sbin/postfix', ['-c', conf, 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
