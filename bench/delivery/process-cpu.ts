import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times: 100 on Linux on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  /** The command name (/proc's comm): "postgres" for every PostgreSQL process. */
  comm: string;
  /** utime + stime + cutime + cstime, in ticks: its own CPU and that of the children it has waited for. */
  ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: the fields after it start at the last ')'
    const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
    const comm = line.slice(line.indexOf('(') + 1, line.lastIndexOf(')'));
    return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined; // it exited between the listing and the read
  }
}

/**
 * CPU time (ms) spent so far by the processes `roots` and all their descendants, from /proc: a server's
 * own CPU, apart from the benchmark's client and sink. A child that exited and was waited for is in
 * its parent's figure (cutime), so short-lived workers (Postfix's smtpd, smtp, cleanup) are counted.
 * With `only`, just the processes of the tree whose command name it takes (with the children they
 * waited for): "postgres" gives PostgreSQL's share, its finished backends in the postmaster's figure.
 */
export function processTreeCpuMs(roots: readonly number[], only?: (comm: string) => boolean): number {
  const stats = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readStat(Number(d)))
    .filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  let ticks = 0;
  const seen = new Set<number>();
  const visit = (s: ProcStat) => {
    if (seen.has(s.pid)) return;
    seen.add(s.pid);
    if (!only || only(s.comm)) ticks += s.ticks;
    for (const c of children.get(s.pid) ?? []) visit(c);
  };
  for (const pid of roots) {
    const s = byPid.get(pid);
    if (s) visit(s);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** This process's own CPU time (ms): the benchmark's load client and its sink run here. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
