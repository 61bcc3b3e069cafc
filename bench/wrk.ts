import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadResult } from './support.js';

/**
 * Load from wrk (Debian's `wrk`) instead of a Node client: on a two-core machine a Node client
 * takes a good part of the CPU the server is being measured with; wrk, written in C, very little.
 */
export function hasWrk(): boolean {
  return process.env.BENCH_LOAD !== 'node' && spawnSync('wrk', ['--version']).error === undefined;
}

export interface WrkLoad {
  /** e.g. http://127.0.0.1:5000 */
  url: string;
  connections: number;
  seconds: number;
  /** Lua run once, before any request (e.g. a table the requests pick from). */
  preludeLua?: string;
  /**
   * Lua that returns the i-th request (1-based `i` is in scope), e.g.
   * `return wrk.format("POST", "/v2/messages", headers, body)`.
   */
  requestLua: string;
  /** The status an accepted request answers with. */
  okStatus: number;
  /** Text the body of an accepted answer contains (when the status alone does not tell). */
  okBodyContains?: string;
}

/** Runs wrk with one thread and `connections` keep-alive connections; latencies are wrk's (HdrHistogram). */
export async function wrkLoad(load: WrkLoad): Promise<LoadResult & { client: 'wrk' }> {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-wrk-'));
  const script = join(dir, 'load.lua');
  writeFileSync(
    script,
    `${load.preludeLua ?? ''}
local i = 0
-- globals, so that done() can read them from the thread with thread:get
failures = 0
first_failure = ""
local threads = {}
function setup(thread) table.insert(threads, thread) end
local function next_request(i)
${load.requestLua}
end
request = function()
  i = i + 1
  return next_request(i)
end
response = function(status, headers, body)
  if status ~= ${load.okStatus}${load.okBodyContains ? ` or not string.find(body, ${luaString(load.okBodyContains)}, 1, true)` : ''} then
    failures = failures + 1
    if first_failure == "" then first_failure = status .. " " .. string.sub(body or "", 1, 300) end
  end
end
done = function(s, latency, requests)
  local failed, first = 0, ""
  for _, t in ipairs(threads) do
    failed = failed + t:get("failures")
    if first == "" then first = t:get("first_failure") end
  end
  local e = s.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", s.requests, e.connect + e.read + e.write + e.timeout, failed, latency:percentile(50), latency:percentile(99), s.duration))
  io.write("FIRST_FAILURE " .. first .. "\\n")
end
`,
  );
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', [
        '-t1',
        `-c${load.connections}`,
        `-d${load.seconds}s`,
        '--timeout',
        '10s',
        '-s',
        script,
        load.url,
      ]);
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.on('error', reject);
      child.on('exit', () => resolve(text));
    });
    const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
    if (!m) throw new Error(`wrk said: ${out}`);
    const [requests, socketErrors, failed, p50Us, p99Us, durationUs] = m.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const firstError = /FIRST_FAILURE (.*)/.exec(out)?.[1]?.trim();
    const seconds = durationUs / 1e6;
    const errors = socketErrors + failed;
    return {
      client: 'wrk',
      requests,
      ok: requests - failed,
      errors,
      seconds: +seconds.toFixed(2),
      perSecond: Math.round((requests - failed) / seconds),
      p50Ms: +(p50Us / 1000).toFixed(2),
      p99Ms: +(p99Us / 1000).toFixed(2),
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Lua string literal for any text (decimal escapes for everything but printable ASCII). */
export function luaString(text: string): string {
  return `"${[...Buffer.from(text, 'utf8')].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`)).join('')}"`;
}
