import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ask, isExecutable, startDaemon, type DaemonProcess } from './daemon-process.js';
import { freePort } from './ports.js';

const SPAMD = '/usr/sbin/spamd';
/** Debian's spamassassin ships its rules here; sa-update (which needs the network) is not run. */
const RULES = '/usr/share/spamassassin';

export function spamdSkipReason(): string | undefined {
  return isExecutable(SPAMD)
    ? undefined
    : 'spamd is not installed (apt-get install spamd spamassassin; .ci/run does it)';
}

/**
 * A private spamd on a loopback port: the packaged rules, a site config dir of ours (the package's
 * plugin .pre files, required_score 5, no Bayes), local tests only (-L: no DNS or network tests),
 * no per-user config (-x). As root it runs its children as nobody, with the temp dir as their home.
 */
export async function startSpamd(): Promise<DaemonProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-spamd-'));
  chmodSync(dir, 0o755);
  const site = join(dir, 'site');
  mkdirSync(site);
  for (const f of readdirSync('/etc/spamassassin').filter((n) => n.endsWith('.pre')))
    copyFileSync(join('/etc/spamassassin', f), join(site, f));
  writeFileSync(join(site, 'local.cf'), 'required_score 5.0\nuse_bayes 0\nbayes_auto_learn 0\n');
  const home = join(dir, 'home');
  mkdirSync(home);
  chmodSync(home, 0o777);
  const port = await freePort();
  const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  return startDaemon({
    name: 'spamd',
    command: [
      SPAMD,
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '--siteconfigpath',
      site,
      '--configpath',
      RULES,
      '-L',
      '-x',
      '-m',
      '2',
      '-s',
      'stderr',
      '-H',
      home,
      ...asRoot,
    ],
    dir,
    port,
    startTimeoutMs: 60_000,
    ready: async (p) => (await ask(p, 'PING SPAMC/1.5\r\n\r\n')).includes('PONG'),
  });
}
