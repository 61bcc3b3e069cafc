import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';

/**
 * A daemon started for a test (rspamd, spamd, clamd): its own temp dir, a loopback port, its
 * output in a log file, in a process group of its own so that stop() ends its forked workers too.
 * The kernel kills it when the test process dies however it dies (setpriv --pdeathsig); its
 * workers then find their parent gone and end (spamd and rspamd children do).
 */
export interface DaemonProcess {
  port: number;
  dir: string;
  /** The daemon's output and log files, for failure messages. */
  log(): string;
  /** Kill it (SIGKILL: the data is disposable) and remove its dir. */
  stop(): Promise<void>;
}

export interface DaemonSpec {
  /** For messages: "rspamd", "spamd", "clamd". */
  name: string;
  command: string[];
  dir: string;
  port: number;
  /** Files that hold the daemon's log besides its stdout/stderr. */
  logFiles?: string[];
  /** Start-up must end within this (clamd and rspamd take seconds). */
  startTimeoutMs: number;
  /** Answered when the daemon is ready (a bare TCP connect is not enough for all of them). */
  ready: (port: number) => Promise<boolean>;
}

const SETPRIV = '/usr/bin/setpriv';
const running = new Set<ChildProcess>();
/** The daemon and the workers it forks (spamd's and rspamd's children): its whole process group. */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
process.once('exit', () => {
  for (const child of running) killGroup(child);
});

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Starts the daemon and waits until `ready` says so; fails with its log if it exits or takes too long. */
export async function startDaemon(spec: DaemonSpec): Promise<DaemonProcess> {
  const outputFile = `${spec.dir}/output.log`;
  const output = openSync(outputFile, 'a');
  const child = existsSync(SETPRIV)
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', ...spec.command], {
        cwd: spec.dir,
        stdio: ['ignore', output, output],
        detached: true,
      })
    : spawn(spec.command[0]!, spec.command.slice(1), {
        cwd: spec.dir,
        stdio: ['ignore', output, output],
        detached: true,
      });
  closeSync(output);
  running.add(child);
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited = `exited with ${code ?? signal}`;
      resolve();
    }),
  );
  child.once('error', (e) => (exited = `could not start: ${e.message}`));
  const log = () =>
    [outputFile, ...(spec.logFiles ?? [])]
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n')
      .slice(-6000);
  const stop = async () => {
    if (running.has(child)) {
      killGroup(child);
      await gone;
      // the forked workers die a moment after the daemon: until the last one has, the kernel still
      // completes connections on the port (and then resets them)
      const until = Date.now() + 5000;
      while (Date.now() < until && (await accepts(spec.port))) await new Promise((r) => setTimeout(r, 20));
    }
    rmSync(spec.dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + spec.startTimeoutMs;
  for (;;) {
    if (exited) {
      const text = log();
      await stop();
      throw new Error(`${spec.name} ${exited}:\n${text}`);
    }
    if (await spec.ready(spec.port).catch(() => false)) break;
    if (Date.now() > deadline) {
      const text = log();
      await stop();
      throw new Error(`${spec.name} was not ready on port ${spec.port} within ${spec.startTimeoutMs} ms:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port: spec.port, dir: spec.dir, log, stop };
}

/** Whether something accepts a TCP connection on the loopback port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sends `request`, returns what comes back until the daemon closes (for readiness checks: PING and the like). */
export function ask(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(2000);
    socket.once('connect', () => socket.end(request));
    socket.on('data', (d) => (answer += d.toString('utf8')));
    socket.once('close', () => resolve(answer));
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('no answer'));
    });
    socket.once('error', reject);
  });
}
