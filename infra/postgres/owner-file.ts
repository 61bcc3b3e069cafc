import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isLiveProcess, processStartTime } from './postmaster-lock.js';

/**
 * Which Postlog process owns the embedded server of a data dir (started it, stops it, starts it
 * again when it dies): `<pid> <start time>`. The start time tells the owner from a program that got
 * its PID after a reboot; a file from an earlier version holds the PID alone, and is trusted.
 */
export class OwnerFile {
  constructor(private readonly path: string) {}

  claim(): void {
    // written whole under another name, then renamed over: a reader never sees an empty file
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${process.pid} ${processStartTime(process.pid) ?? ''}\n`);
    renameSync(temporary, this.path);
  }

  /** Removes the file if it names this process. */
  release(): void {
    if (this.read()?.pid === process.pid) rmSync(this.path, { force: true });
  }

  /** The owner's PID when it is another process that still runs. */
  liveOwnerElsewhere(): number | undefined {
    const owner = this.read();
    if (owner === undefined || owner.pid === process.pid || !isLiveProcess(owner.pid)) return undefined;
    if (owner.startTime !== undefined && processStartTime(owner.pid) !== owner.startTime) return undefined;
    return owner.pid;
  }

  private read(): { pid: number; startTime: string | undefined } | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const [pid, startTime] = text.trim().split(/\s+/);
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 ? { pid: n, startTime: startTime || undefined } : undefined;
  }
}
