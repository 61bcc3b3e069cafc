import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ask, isExecutable, startDaemon, type DaemonProcess } from './daemon-process.js';
import { freePort } from './ports.js';

const CLAMD = '/usr/sbin/clamd';

/** The EICAR test file: every anti-virus reports it, and it harms nothing. */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

export function clamdSkipReason(): string | undefined {
  return isExecutable(CLAMD) ? undefined : 'clamd is not installed (apt-get install clamav-daemon; .ci/run does it)';
}

/**
 * A private clamd on a loopback port. ClamAV cannot download its database here (freshclam needs the
 * network), so the database is one signature of ours: an .ndb body signature of the EICAR string,
 * which clamd reports as "Eicar-Test-Signature.UNOFFICIAL". StreamMaxLength is small (1 MiB) so a
 * test can go past it.
 */
export async function startClamd(o: { streamMaxBytes?: number } = {}): Promise<DaemonProcess & { socket: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-clamd-'));
  const db = join(dir, 'db');
  mkdirSync(db);
  writeFileSync(join(db, 'postlog-test.ndb'), `Eicar-Test-Signature:0:*:${Buffer.from(EICAR).toString('hex')}\n`);
  const port = await freePort();
  writeFileSync(
    join(dir, 'clamd.conf'),
    [
      `DatabaseDirectory ${db}`,
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      // and a Unix socket, as Debian's clamd has by default (POSTLOG_CLAMD_SOCKET)
      `LocalSocket ${join(dir, 'clamd.sock')}`,
      'Foreground yes',
      `LogFile ${join(dir, 'clamd.log')}`,
      `PidFile ${join(dir, 'clamd.pid')}`,
      `StreamMaxLength ${o.streamMaxBytes ?? 1024 * 1024}`,
      // as root, clamd stays root (no User line): the files are ours
      '',
    ].join('\n'),
  );
  const daemon = await startDaemon({
    name: 'clamd',
    command: [CLAMD, '-c', join(dir, 'clamd.conf')],
    dir,
    port,
    logFiles: [join(dir, 'clamd.log')],
    startTimeoutMs: 60_000,
    ready: async (p) => (await ask(p, 'zPING\0')).startsWith('PONG'),
  });
  return { ...daemon, socket: join(dir, 'clamd.sock') };
}
