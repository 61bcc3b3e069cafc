import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The data directory on a small tmpfs, so the chaos run can fill the disk under PostgreSQL and give
 * the space back. Mounting needs root (CAP_SYS_ADMIN): without it the disk-full fault is skipped and
 * `reason` says why.
 */
export function smallDisk(dir: string, megabytes: number): { mounted: true } | { mounted: false; reason: string } {
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() !== 0)
    return { mounted: false, reason: 'a size-limited data directory needs a tmpfs mount, which needs root' };
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0)
    return { mounted: false, reason: `mount -t tmpfs failed: ${(r.stderr || r.error?.message) ?? ''}`.trim() };
  chmodSync(dir, 0o755); // as root the embedded PostgreSQL runs as "postgres", which must enter it
  return { mounted: true };
}

export function unmountSmallDisk(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Fills the file system holding `dir` to the last byte; the returned function gives the space back. */
export function fillDisk(dir: string): () => void {
  const path = join(dir, 'chaos-disk-filler');
  const fd = openSync(path, 'w');
  for (const size of [8 << 20, 64 << 10, 512]) {
    const chunk = Buffer.alloc(size);
    try {
      for (;;) writeSync(fd, chunk);
    } catch {
      // ENOSPC: on to smaller pieces
    }
  }
  closeSync(fd);
  return () => rmSync(path, { force: true });
}
