import { closedLoop, startPostlogForBench } from './support.js';

/** 64 concurrent HTTP clients sending single-recipient 3 KB messages to a real `postlog start`. */
export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const concurrency = 64;
  // the API role alone, as a deployment that scales sends runs it (no MTA competing for the 2 cores)
  const postlog = await startPostlogForBench({ POSTLOG_ROLES: 'api' });
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as { serverId: string; apiKey: string };
    await postlog.cli(['domain', 'add', 'bench.test', '--server', init.serverId, '--verified', '--json']);
    const text = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(53).slice(0, 3000);
    const v2 = (i: number) => ({
      path: '/v2/messages',
      headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
      body: JSON.stringify({ from: 'Bench <bench@bench.test>', to: [`rcpt${i}@example${i % 10}.org`], subject: `Benchmark message ${i}`, text }),
    });
    const v1 = (i: number) => ({
      path: '/api/v1/send/message',
      headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
      body: JSON.stringify({ from: 'Bench <bench@bench.test>', to: [`rcpt${i}@example${i % 10}.org`], subject: `Benchmark message ${i}`, plain_body: text }),
    });
    await closedLoop(postlog.url, concurrency, 2, v2, (s) => s === 202); // warm-up
    const native = await closedLoop(postlog.url, concurrency, seconds, v2, (s) => s === 202);
    process.stderr.write(`POST /v2/messages: ${native.perSecond} accepted/s, p50 ${native.p50Ms} ms, p99 ${native.p99Ms} ms, errors ${native.errors}\n`);
    const postal = await closedLoop(postlog.url, concurrency, seconds, v1, (s, b) => s === 200 && b.includes('"status":"success"'));
    process.stderr.write(`POST /api/v1/send/message: ${postal.perSecond} accepted/s, p50 ${postal.p50Ms} ms, p99 ${postal.p99Ms} ms, errors ${postal.errors}\n`);
    return {
      bench: 'send-api',
      concurrency,
      messageBytes: 3000,
      v2: native,
      postalV1: postal,
      targets: { acceptedPerSecond: 3000, p99Ms: 50 },
      met: { throughput: native.perSecond >= 3000, latency: native.p99Ms < 50 },
    };
  } finally {
    await postlog.stop();
  }
}
