import PostalMime from 'postal-mime';
import pg from 'pg';
import { freePort } from '../test/helpers/ports.js';
import { startSmtpSink } from '../test/helpers/smtp-sink.js';
import { closedLoop, startPostlogForBench, type LoadResult } from './support.js';
import { hasWrk, luaString, wrkLoad } from './wrk.js';

/** 64 concurrent clients loading open pixels; every hit must end up as an event in the log. */
export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const sinkPort = await freePort();
  const httpPort = await freePort();
  const sink = await startSmtpSink('127.0.0.12', sinkPort, { tls: false });
  const postlog = await startPostlogForBench({
    POSTLOG_HTTP_PORT: String(httpPort),
    POSTLOG_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    POSTLOG_ROLES: 'api,mta,projector,tracking',
    POSTLOG_SMART_HOST: `127.0.0.12:${sinkPort}`,
    POSTLOG_SMART_HOST_TLS: 'none',
    POSTLOG_MTA_POLL_MS: '50',
  });
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as { serverId: string; apiKey: string };
    await postlog.cli(['domain', 'add', 'bench.test', '--server', init.serverId, '--verified', '--json']);
    const recipients = Array.from({ length: 200 }, (_, i) => `reader${i}@example.org`);
    for (let i = 0; i < recipients.length; i += 100) {
      const res = await fetch(`${postlog.url}/v2/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
        body: JSON.stringify({
          from: 'news@bench.test',
          to: recipients.slice(i, i + 100),
          subject: 'Pixel',
          html: '<p>Hello</p>',
        }),
      });
      if (res.status !== 202) throw new Error(`send failed: ${res.status} ${await res.text()}`);
    }
    const deadline = Date.now() + 60_000;
    while (sink.received.length < recipients.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const pixels: string[] = [];
    for (const m of sink.received) {
      const html = (await PostalMime.parse(m.raw)).html ?? '';
      const src = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)?.[1];
      if (src) pixels.push(new URL(src).pathname);
    }
    if (pixels.length !== recipients.length) throw new Error(`only ${pixels.length} pixels found`);
    // the MTA records each delivery; wait until all are in the log before opening
    await new Promise((r) => setTimeout(r, 2000));

    // The load comes from wrk when it is installed (Debian's wrk): a node client on the same two
    // cores would take a good part of the CPU the server is being measured with.
    const started = performance.now();
    const load = await loadPixels(`http://127.0.0.1:${httpPort}`, pixels, seconds);
    const { ok: hits, errors, seconds: elapsed } = load;
    // every answered hit must reach the log (the recorder drains its buffer)
    const env = postlog.env;
    const secrets = JSON.parse(
      (await import('node:fs')).readFileSync(`${env.POSTLOG_DATA_DIR}/embedded-pg.json`, 'utf8'),
    ) as { user: string; password: string };
    const client = new pg.Client({
      connectionString: `postgres://${secrets.user}:${encodeURIComponent(secrets.password)}@127.0.0.1:${env.POSTLOG_EMBEDDED_PG_PORT}/postgres`,
    });
    await client.connect();
    let recorded = 0;
    const until = Date.now() + 120_000;
    while (Date.now() < until) {
      recorded = (
        await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'MessageOpened'`)
      ).rows[0]!.n;
      if (recorded >= hits) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const drainedAfter = (performance.now() - started) / 1000 - elapsed;
    await client.end();
    const perSecond = Math.round(hits / elapsed);
    const recordedPerSecond = Math.round(recorded / (elapsed + drainedAfter));
    process.stderr.write(
      `pixel hits: ${perSecond}/s answered (p99 ${load.p99Ms.toFixed(1)} ms, load from ${load.client}), ${recorded}/${hits} recorded, ${recordedPerSecond} events/s including the drain\n`,
    );
    return {
      bench: 'tracking',
      clients: 64,
      loadGenerator: load.client,
      postlogProcesses: postlog.env.POSTLOG_PROCESSES,
      hits,
      errors,
      seconds: +elapsed.toFixed(2),
      answeredPerSecond: perSecond,
      p99Ms: +load.p99Ms.toFixed(2),
      recorded,
      recordedPerSecond,
      targets: { hitsPerSecond: 5000 },
      met: { throughput: perSecond >= 5000 && recorded >= hits },
    };
  } finally {
    await postlog.stop();
    await sink.close();
  }
}

const userAgent = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Bench/1.0';

/** 64 keep-alive clients loading the pixels in turn: from wrk when installed, else from node. */
async function loadPixels(
  url: string,
  paths: string[],
  seconds: number,
): Promise<LoadResult & { client: 'wrk' | 'node' }> {
  if (hasWrk()) {
    return wrkLoad({
      url,
      connections: 64,
      seconds,
      preludeLua: `local paths = {${paths.map(luaString).join(',')}}\nlocal headers = { ["User-Agent"] = ${luaString(userAgent)} }`,
      requestLua: 'return wrk.format("GET", paths[(i % #paths) + 1], headers)',
      okStatus: 200,
    });
  }
  const result = await closedLoop(
    url,
    64,
    seconds,
    (i) => ({ path: paths[i % paths.length]!, headers: { 'user-agent': userAgent } }),
    (status) => status === 200,
  );
  return { client: 'node', ...result };
}
