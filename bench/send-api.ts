import { closedLoop, cpuPerMessageSince, machineBusyMs, startPostlogForBench, type LoadResult } from './support.js';
import { hasWrk, luaString, wrkLoad } from './wrk.js';

/**
 * 64 concurrent HTTP clients sending single-recipient 3 KB messages to a real `postlog start`.
 * The load comes from wrk when it is installed, else from a Node client (which shares the cores).
 * BENCH_PROCESSES sets POSTLOG_PROCESSES of the Postlog under test (default: auto).
 *
 * Measured warm, as a server runs: a fresh Postlog reaches its rate over about ten seconds (V8
 * compiles the hot paths, the heap grows, each new PostgreSQL connection fills its caches; the
 * first two seconds run at under half the rate), so BENCH_WARM_UP_SECONDS (default 10) of the
 * same load come first.
 */
export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const warmUpSeconds = Number(process.env.BENCH_WARM_UP_SECONDS ?? 10);
  const concurrency = 64;
  // the API role alone, as a deployment that scales sends runs it (no MTA competing for the cores)
  const postlog = await startPostlogForBench({ POSTLOG_ROLES: 'api' });
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as { serverId: string; apiKey: string };
    await postlog.cli(['domain', 'add', 'bench.test', '--server', init.serverId, '--verified', '--json']);
    const text = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(53).slice(0, 3000);
    const headers = { 'content-type': 'application/json', 'x-server-api-key': init.apiKey };
    // one body per request: recipient and subject carry the request's number
    const v2Body = (i: number | string, m: number | string) =>
      JSON.stringify({
        from: 'Bench <bench@bench.test>',
        to: [`rcpt${i}@example${m}.org`],
        subject: `Benchmark message ${i}`,
        text,
      });
    const v1Body = (i: number | string, m: number | string) =>
      JSON.stringify({
        from: 'Bench <bench@bench.test>',
        to: [`rcpt${i}@example${m}.org`],
        subject: `Benchmark message ${i}`,
        plain_body: text,
      });
    const wrk = hasWrk();
    // with the machine's CPU per accepted message (Postlog, PostgreSQL and the load generator; steal
    // excluded): steadier than the rate on a shared machine
    const load = async (
      path: string,
      body: typeof v2Body,
      okStatus: number,
      okBodyContains: string | undefined,
      secs: number,
    ) => {
      const busy0 = machineBusyMs();
      const result = await loadOnce(path, body, okStatus, okBodyContains, secs);
      return { ...result, cpuMicrosecondsPerMessage: cpuPerMessageSince(busy0, result.ok) };
    };
    const loadOnce = async (
      path: string,
      body: typeof v2Body,
      okStatus: number,
      okBodyContains: string | undefined,
      secs: number,
    ): Promise<LoadResult> => {
      if (wrk) {
        const template = body('{I}', '{M}').replace(/%/g, '%%').replace(/\{I\}/g, '%d').replace(/\{M\}/g, '%d');
        const luaHeaders = `{${Object.entries(headers)
          .map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`)
          .join(', ')}}`;
        return wrkLoad({
          url: postlog.url,
          connections: concurrency,
          seconds: secs,
          preludeLua: `local headers = ${luaHeaders}\nlocal template = ${luaString(template)}`,
          requestLua: `return wrk.format("POST", ${luaString(path)}, headers, string.format(template, i, i % 10, i))`,
          okStatus,
          ...(okBodyContains ? { okBodyContains } : {}),
        });
      }
      return closedLoop(
        postlog.url,
        concurrency,
        secs,
        (i) => ({ path, headers, body: body(i, i % 10) }),
        (s, b) => s === okStatus && (!okBodyContains || b.includes(okBodyContains)),
      );
    };
    if (warmUpSeconds > 0) await load('/v2/messages', v2Body, 202, undefined, warmUpSeconds);
    const native = await load('/v2/messages', v2Body, 202, undefined, seconds);
    process.stderr.write(
      `POST /v2/messages: ${native.perSecond} accepted/s, p50 ${native.p50Ms} ms, p99 ${native.p99Ms} ms, errors ${native.errors}${native.firstError ? ` (${native.firstError})` : ''}\n`,
    );
    const postal = await load('/api/v1/send/message', v1Body, 200, '"status":"success"', seconds);
    process.stderr.write(
      `POST /api/v1/send/message: ${postal.perSecond} accepted/s, p50 ${postal.p50Ms} ms, p99 ${postal.p99Ms} ms, errors ${postal.errors}${postal.firstError ? ` (${postal.firstError})` : ''}\n`,
    );
    return {
      bench: 'send-api',
      concurrency,
      messageBytes: 3000,
      warmUpSeconds,
      loadGenerator: wrk ? 'wrk' : 'node',
      postlogProcesses: postlog.env.POSTLOG_PROCESSES,
      v2: native,
      postalV1: postal,
      targets: { acceptedPerSecond: 3000, p99Ms: 50 },
      met: { throughput: native.perSecond >= 3000, latency: native.p99Ms < 50 },
    };
  } finally {
    await postlog.stop();
  }
}
