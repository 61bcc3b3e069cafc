import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { freePort } from './ports.js';

/**
 * Private ClickHouse servers for tests and benchmarks: Debian's `clickhouse-server` package (18.16,
 * the only ClickHouse these machines can install; `.ci/run` installs it), one server per call, on
 * loopback, with config, data, tmp and logs in a temp dir that stop() removes.
 *
 * 18.16 runs as root without complaint (newer releases refuse when the data dir belongs to another
 * user; ours always belongs to the current user), so the server runs as whoever runs the tests.
 * Start-up takes about 0.2 s on this machine, so every test file can have its own server.
 */

/** How to run the server binary: Debian ships /usr/sbin/clickhouse-server; upstream packages ship one `clickhouse` binary with a `server` mode. */
export function clickhouseServerCommand(): string[] | undefined {
  const candidates: string[][] = [
    ['/usr/sbin/clickhouse-server'],
    ['/usr/bin/clickhouse-server'],
    ['/usr/bin/clickhouse', 'server'],
  ];
  return candidates.find(([bin]) => isExecutable(bin!));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why ClickHouse tests must skip here, or undefined when a server can be started. Tests pass it as `{ skip }`. */
export function clickhouseSkipReason(): string | undefined {
  return clickhouseServerCommand()
    ? undefined
    : 'clickhouse-server is not installed (apt-get install clickhouse-server; .ci/run does it): ClickHouse tests skipped';
}

export interface ClickHouseServer {
  /** HTTP interface, e.g. http://127.0.0.1:41234 (user "default", no password). */
  url: string;
  httpPort: number;
  tcpPort: number;
  dir: string;
  /** Milliseconds from spawn until GET /ping answered. */
  startupMs: number;
  /** The server process id (changes with crashAndRestart). */
  pid(): number;
  /** CPU seconds (user + system) the server process has used so far, from /proc. */
  cpuSeconds(): number;
  /** The server's own log (warnings and errors), for failure messages. */
  log(): string;
  /** Kill the server and delete its files. */
  stop(): Promise<void>;
  /** Kill -9 the server and start it again on the same ports and data (for crash tests); resolves with the start-up ms. */
  crashAndRestart(): Promise<number>;
}

export interface ClickHouseServerOptions {
  /** Per-query memory cap (bytes); the default suits tests, benches raise it. */
  maxMemoryUsage?: number;
  /** Log level of the server's own log file. */
  logLevel?: 'error' | 'warning' | 'information' | 'debug' | 'trace';
  startTimeoutMs?: number;
  /** The server's time zone (UTC by default): another one shows whether queries depend on it. */
  timezone?: string;
  /** Password of the "default" user (none by default), to test credentials. */
  password?: string;
}

const SETPRIV = '/usr/bin/setpriv';
const running = new Set<ChildProcess>();
// A test runner that exits without calling stop() must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Start a private ClickHouse server and wait until it answers /ping. */
export async function startClickHouse(options: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
  const command = clickhouseServerCommand();
  if (!command) throw new Error(clickhouseSkipReason());
  // freePort() can race with other people's tests on this machine: a taken port makes the server
  // exit at once, and we try again with new ports.
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(command, options);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortTakenError)) throw error;
    }
  }
  throw lastError;
}

class PortTakenError extends Error {}

async function startOnce(command: string[], options: ClickHouseServerOptions): Promise<ClickHouseServer> {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-clickhouse-'));
  const [httpPort, tcpPort, interserverPort] = [await freePort(), await freePort(), await freePort()];
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub));
  writeFileSync(
    join(dir, 'config.xml'),
    serverConfig(dir, {
      httpPort,
      tcpPort,
      interserverPort,
      logLevel: options.logLevel ?? 'warning',
      timezone: options.timezone ?? 'UTC',
    }),
  );
  writeFileSync(join(dir, 'users.xml'), usersConfig(options.maxMemoryUsage ?? 2_000_000_000, options.password ?? ''));
  const url = `http://127.0.0.1:${httpPort}`;
  const readLog = () =>
    ['err.log', 'stdout.log']
      .map((f) => join(dir, 'log', f))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');

  let child: ChildProcess;
  // The data is disposable, so the server is killed rather than shut down: a graceful stop of 18.16
  // takes 2 s, and 8 s while a client still holds a keep-alive connection.
  const kill = async () => {
    if (!running.has(child)) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  };
  const launch = async (): Promise<number> => {
    const started = performance.now();
    const output = openSync(join(dir, 'log', 'stdout.log'), 'a');
    const args = [...command, `--config-file=${join(dir, 'config.xml')}`];
    // setpriv --pdeathsig: the kernel kills the server when this process dies, however it dies
    // (SIGKILL, a test timeout), so no server outlives its test or bench.
    child = existsSync(SETPRIV)
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', ...args], { cwd: dir, stdio: ['ignore', output, output] })
      : spawn(args[0]!, args.slice(1), { cwd: dir, stdio: ['ignore', output, output] });
    closeSync(output);
    running.add(child);
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited = `exited with ${code ?? signal}`;
    });
    child.once('error', (error) => {
      exited = `could not start: ${error.message}`;
    });
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) {
        const log = readLog();
        if (/Address already in use/i.test(log))
          throw new PortTakenError(`clickhouse-server ${exited}: a port was taken`);
        throw new Error(`clickhouse-server ${exited}:\n${log.slice(-4000)}`);
      }
      if (await ping(httpPort)) return Math.round(performance.now() - started);
      if (Date.now() > deadline) {
        await kill();
        throw new Error(
          `clickhouse-server did not answer /ping on ${url} within ${timeoutMs} ms:\n${readLog().slice(-4000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const stop = async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };

  let startupMs: number;
  try {
    startupMs = await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    httpPort,
    tcpPort,
    dir,
    startupMs,
    pid: () => child.pid!,
    cpuSeconds: () => processCpuSeconds(child.pid!),
    log: readLog,
    stop,
    async crashAndRestart() {
      await kill();
      return launch();
    },
  };
}

function processCpuSeconds(pid: number): number {
  // /proc/<pid>/stat: fields 14 and 15 are utime and stime in clock ticks (100 per second on Linux)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** GET /ping on a connection of its own (no keep-alive left open to hold the server). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ping', agent: false, timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 && body.startsWith('Ok')));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function serverConfig(
  dir: string,
  o: { httpPort: number; tcpPort: number; interserverPort: number; logLevel: string; timezone: string },
): string {
  // Only keys 18.16 knows; caches small, one loopback address, everything under dir.
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>${o.logLevel}</level>
    <log>${join(dir, 'log', 'server.log')}</log>
    <errorlog>${join(dir, 'log', 'err.log')}</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <http_port>${o.httpPort}</http_port>
  <tcp_port>${o.tcpPort}</tcp_port>
  <interserver_http_port>${o.interserverPort}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <listen_host>127.0.0.1</listen_host>
  <path>${join(dir, 'data')}/</path>
  <tmp_path>${join(dir, 'tmp')}/</tmp_path>
  <user_files_path>${join(dir, 'user_files')}/</user_files_path>
  <format_schema_path>${join(dir, 'format_schemas')}/</format_schema_path>
  <users_config>${join(dir, 'users.xml')}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>${xmlText(o.timezone)}</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
  <max_connections>256</max_connections>
  <keep_alive_timeout>10</keep_alive_timeout>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

function usersConfig(maxMemoryUsage: number, password: string): string {
  return `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>${maxMemoryUsage}</max_memory_usage>
      <max_threads>2</max_threads>
      <background_pool_size>4</background_pool_size>
      <use_uncompressed_cache>0</use_uncompressed_cache>
    </default>
  </profiles>
  <users>
    <default>
      <password>${xmlText(password)}</password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`;
}
