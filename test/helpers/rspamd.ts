import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ask, isExecutable, startDaemon, type DaemonProcess } from './daemon-process.js';
import { freePort } from './ports.js';

const RSPAMD = '/usr/bin/rspamd';

/** Why rspamd tests must skip here, or undefined. Tests pass it as `{ skip }`. */
export function rspamdSkipReason(): string | undefined {
  return isExecutable(RSPAMD) ? undefined : 'rspamd is not installed (apt-get install rspamd; .ci/run does it)';
}

/**
 * Modules that need the network (DNS lists, fuzzy storage at rspamd.com, SPF/DKIM/DMARC lookups) or
 * Redis: off, so the verdict depends on the message alone and nothing waits on a lookup.
 */
const OFF = [
  'rbl',
  'fuzzy_check',
  'spf',
  'dkim',
  'dmarc',
  'arc',
  'asn',
  'phishing',
  'neural',
  'ratelimit',
  'greylist',
  'mx_check',
  'replies',
  'reputation',
  'url_redirector',
  'dcc',
  'emails',
  'surbl',
  'whitelist',
  'history_redis',
  'dkim_signing',
  'metric_exporter',
  'clickhouse',
  'elastic',
  'hfilter',
];

/**
 * A private rspamd (Debian's package) on a loopback port: the package's rules, with a config dir of
 * our own that runs one normal worker and no controller or proxy. DNS goes to a closed port; the
 * test patterns (GTUBE) are on. Its list of top-level domains is a short one of ours: compiling the
 * full list takes 20-40 s on this machine, and no test depends on it.
 */
export async function startRspamd(): Promise<DaemonProcess & { url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-rspamd-'));
  for (const sub of ['local.d', 'db', 'run', 'log']) mkdirSync(join(dir, sub));
  const port = await freePort();
  writeFileSync(
    join(dir, 'rspamd.conf'),
    `.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  .include "$CONFDIR/options.inc"
  .include(priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
  type = "file";
  filename = "$LOGDIR/rspamd.log";
  level = "warning";
}
worker "normal" {
  bind_socket = "127.0.0.1:${port}";
  .include "$CONFDIR/worker-normal.inc"
  count = 1;
}
`,
  );
  writeFileSync(join(dir, 'tld.dat'), 'com\norg\nnet\ntest\nexample\n');
  writeFileSync(
    join(dir, 'local.d', 'options.inc'),
    `dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; }
enable_test_patterns = true;
disable_hyperscan = true;
url_tld = "${join(dir, 'tld.dat')}";
`,
  );
  for (const module of OFF) writeFileSync(join(dir, 'local.d', `${module}.conf`), 'enabled = false;\n');
  const root = process.getuid?.() === 0 ? ['-u', 'root', '-g', 'root'] : [];
  const vars = { LOCAL_CONFDIR: dir, DBDIR: join(dir, 'db'), RUNDIR: join(dir, 'run'), LOGDIR: join(dir, 'log') };
  const daemon = await startDaemon({
    name: 'rspamd',
    command: [
      RSPAMD,
      '-f',
      ...root,
      '-c',
      join(dir, 'rspamd.conf'),
      ...Object.entries(vars).map(([k, v]) => `--var=${k}=${v}`),
    ],
    dir,
    port,
    logFiles: [join(dir, 'log', 'rspamd.log')],
    startTimeoutMs: 90_000,
    ready: async (p) => (await ask(p, 'GET /ping HTTP/1.0\r\n\r\n')).includes('pong'),
  });
  return { ...daemon, url: `http://127.0.0.1:${port}` };
}
