import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../test/helpers/postlog-process.js';
import { freePort } from '../test/helpers/ports.js';

/**
 * A real `postlog start` on a fresh embedded PostgreSQL, for benchmarks. `BENCH_NODE_ARGS` (e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to that Node process (and so to the processes
 * it supervises), to profile the server. `BENCH_PROCESSES` sets POSTLOG_PROCESSES (default auto).
 */
export async function startPostlogForBench(extraEnv: Record<string, string> = {}) {
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ').filter(Boolean) : [];
  const dataDir = extraEnv.POSTLOG_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'postlog-bench-'));
  chmodSync(dataDir, 0o755);
  const env = {
    ...(process.env as Record<string, string>),
    POSTLOG_DATA_DIR: dataDir,
    POSTLOG_HTTP_PORT: String(await freePort()),
    POSTLOG_EMBEDDED_PG_PORT: extraEnv.POSTLOG_EMBEDDED_PG_PORT ?? String(await freePort()),
    POSTLOG_LOG_LEVEL: 'warn',
    POSTLOG_LOG_FORMAT: 'json',
    POSTLOG_API_RATE_LIMIT: '1000000',
    // as production on a multi-core host runs it; BENCH_PROCESSES=1 measures one process
    POSTLOG_PROCESSES: process.env.BENCH_PROCESSES ?? 'auto',
    ...extraEnv,
  };
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, cliPath, 'start'], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${env.POSTLOG_HTTP_PORT}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('postlog did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const cli = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout!.on('data', (d) => (out += d));
      p.on('exit', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`postlog ${args.join(' ')} exited ${code}`)),
      );
    });
  return {
    url,
    env,
    cli,
    pid: child.pid!,
    async stop(keepData = false) {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface LoadResult {
  requests: number;
  /** Requests answered as accepted. */
  ok: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  firstError?: string;
}

/** `concurrency` keep-alive clients sending requests back to back for `seconds`. */
export async function closedLoop(
  target: string,
  concurrency: number,
  seconds: number,
  /** The i-th request: a POST of `body`, or a GET without one. */
  request: (i: number) => { path: string; headers: Record<string, string>; body?: string },
  isOk: (status: number, body: string) => boolean,
  /** Stop early when this says no (a fixed number of requests). */
  more: () => boolean = () => true,
): Promise<LoadResult> {
  const url = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let n = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && more()) {
        const r = request(n++);
        const t0 = performance.now();
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.request(
            {
              host: url.hostname,
              port: url.port,
              path: r.path,
              method: r.body === undefined ? 'GET' : 'POST',
              agent,
              headers: r.body === undefined ? r.headers : { ...r.headers, 'content-length': Buffer.byteLength(r.body) },
            },
            (res) => {
              let data = '';
              res.setEncoding('utf8');
              res.on('data', (c) => (data += c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
            },
          );
          req.on('error', reject);
          req.end(r.body ?? '');
        });
        latencies.push(performance.now() - t0);
        if (!isOk(status, body)) {
          errors++;
          firstError ??= `${status} ${body.slice(0, 300)}`;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    +(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2);
  return {
    requests: latencies.length,
    ok: latencies.length - errors,
    errors,
    seconds: +elapsed.toFixed(2),
    perSecond: Math.round((latencies.length - errors) / elapsed),
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    ...(firstError ? { firstError } : {}),
  };
}

/**
 * CPU time (ms) the whole machine has spent busy so far, over all cores: user, nice, system and
 * interrupts, without idle and without time the host took for other guests (steal). Two of these
 * around a run give the CPU the run cost, whatever the machine's neighbours did to its wall time.
 */
export function machineBusyMs(): number {
  return cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
}

/** Machine CPU per message since `busyAtStartMs` (a machineBusyMs() reading), in microseconds. */
export function cpuPerMessageSince(busyAtStartMs: number, messages: number): number {
  return Math.round(((machineBusyMs() - busyAtStartMs) * 1000) / Math.max(1, messages));
}
