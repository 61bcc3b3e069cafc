import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

/** The compiled CLI, as `npm start` runs it. */
export const cliPath = resolve(dirname(fileURLToPath(import.meta.url)), '../../app/cli/main.js');

/** A data dir the embedded server can use also when the tests run as root. */
export function tempDataDir(prefix = 'postlog-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export interface PostlogProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export async function baseEnv(dataDir: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    ...(process.env as Record<string, string>),
    POSTLOG_DATA_DIR: dataDir,
    POSTLOG_HTTP_PORT: String(await freePort()),
    POSTLOG_EMBEDDED_PG_PORT: String(await freePort()),
    POSTLOG_SUBMISSION_PORT: String(await freePort()),
    POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
    POSTLOG_INBOUND_PORT: String(await freePort()),
    // no resolver: a test's MTA must never look for the internet
    POSTLOG_DNS_SERVERS: '127.0.0.1:9',
    POSTLOG_LOG_FORMAT: 'json',
    ...extra,
  };
}

/** Runs `postlog <args>` and waits for it to exit. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/**
 * Starts `postlog start` and waits until /ready answers 200: /health is already 200 while the roles
 * are still starting (HTTP listens first), so waiting on it races the rest of start-up.
 */
export async function startPostlogProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<PostlogProcess> {
  const child = spawn(process.execPath, [cliPath, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  const url = `http://127.0.0.1:${env.POSTLOG_HTTP_PORT}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (done) throw new Error(`postlog exited during start-up:\n${out}`);
    try {
      const res = await fetch(`${url}/ready`);
      if (res.status === 200) return { child, url, output: () => out, exited };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`postlog did not become ready in ${timeoutMs} ms:\n${out}`);
}

const live = new Set<ChildProcess>();

/**
 * Stops every `postlog start` a test left running (an assertion failed before its kill): SIGTERM so
 * the embedded PostgreSQL stops with it, SIGKILL after 10 s. Without this the open pipes keep the test
 * file's process, and so the whole test run, alive forever. Call it from `after()`.
 */
export async function stopLeftoverPostlogProcesses(): Promise<void> {
  await Promise.all(
    [...live].map(async (child) => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}
