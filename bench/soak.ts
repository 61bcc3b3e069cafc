import { loadavg } from 'node:os';
import { dnsmasqAvailable, freeUdpPort, startDnsServer } from '../test/helpers/dns-server.js';
import { freePort } from '../test/helpers/ports.js';
import { startSmtpSink } from '../test/helpers/smtp-sink.js';
import { pacedLoad } from './paced-load.js';
import { parsePrometheusText } from './prometheus-text.js';
import { type SoakLimits, type SoakSample, soakVerdict } from './soak-verdict.js';
import { closedLoop, startPostlogForBench } from './support.js';

const DOMAINS = Array.from({ length: 10 }, (_, i) => `d${i}.bench`);
const TEXT = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor.\n'
  .repeat(39)
  .slice(0, 3072);
const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

/** The figures of one /metrics scrape the soak follows (the processes' own gauges, the queue, the projections). */
async function scrape(url: string) {
  const samples = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
  const per = (name: string, label: string, value: string, scale: number) =>
    Object.fromEntries(
      samples
        .filter((s) => s.name === name && s.labels[label] === value)
        .map((s) => [s.labels.process!, +(s.value / scale).toFixed(1)]),
    );
  const all = (name: string) => samples.filter((s) => s.name === name);
  return {
    rssMb: per('postlog_process_memory_bytes', 'kind', 'rss', MB),
    heapUsedMb: per('postlog_process_memory_bytes', 'kind', 'heap_used', MB),
    heapAfterGcMb: per('postlog_process_memory_bytes', 'kind', 'heap_after_gc', MB),
    externalMb: per('postlog_process_memory_bytes', 'kind', 'external', MB),
    arrayBuffersMb: per('postlog_process_memory_bytes', 'kind', 'array_buffers', MB),
    loopP99Ms: per('postlog_process_event_loop_delay_seconds', 'quantile', '0.99', 1e-3),
    queueDepth: all('postlog_queue_depth')
      .filter((s) => s.labels.state === 'queued')
      .reduce((a, s) => a + s.value, 0),
    projectionLagSeconds: +Math.max(0, ...all('postlog_projection_lag_seconds').map((s) => s.value)).toFixed(2),
    slowestProjection:
      all('postlog_projection_lag_events').sort((a, b) => b.value - a.value)[0]?.labels.projection ?? '',
    projectionLagEvents: Math.max(0, ...all('postlog_projection_lag_events').map((s) => s.value)),
    databaseMb: +((all('postlog_database_size_bytes')[0]?.value ?? 0) / MB).toFixed(1),
  };
}

async function waitUntil(what: string, ok: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

const p99 = (sorted: number[]) => +(sorted[Math.floor(sorted.length * 0.99)] ?? 0).toFixed(1);
const byProcess = (r: Record<string, number>, unit: string) =>
  Object.entries(r)
    .map(([p, v]) => `${p} ${v} ${unit}`)
    .join(', ');

/**
 * `npm run bench -- soak`: a real `postlog start` with every role, delivering to an SMTP sink found
 * through dnsmasq, loaded over HTTP at half its measured capacity for BENCH_SOAK_MINUTES. Prints the
 * figures every minute; fails when memory, the queue, projection lag or event-loop lag still rise
 * in the second half (see soakVerdict).
 */
export async function run() {
  if (!dnsmasqAvailable()) throw new Error('the soak needs dnsmasq (apt-get install dnsmasq-base)');
  const minutes = num('BENCH_SOAK_MINUTES', 10);
  const sampleSeconds = num('BENCH_SOAK_SAMPLE_SECONDS', 10);
  const soakSeconds = minutes * 60;
  const sinkPort = await freePort();
  const dnsPort = await freeUdpPort();
  const sink = await startSmtpSink('127.0.0.2', sinkPort, { tls: false, countOnly: true });
  const dns = await startDnsServer(
    {
      mx: DOMAINS.map((d) => [d, 'mx.sink.bench', 10] as [string, string, number]),
      a: [['mx.sink.bench', '127.0.0.2']],
      local: ['bench'],
    },
    dnsPort,
  );
  // every role (the default), each listener on a port of its own: other benches may run beside it
  const postlog = await startPostlogForBench({
    POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
    POSTLOG_MTA_PORT: String(sinkPort),
    POSTLOG_MTA_POLL_MS: '20',
    POSTLOG_SUBMISSION_PORT: String(await freePort()),
    POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
    POSTLOG_INBOUND_PORT: String(await freePort()),
  });
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as { serverId: string; apiKey: string };
    await postlog.cli(['domain', 'add', 'bench.test', '--server', init.serverId, '--verified', '--json']);
    const headers = { 'content-type': 'application/json', 'x-server-api-key': init.apiKey };
    let number = 0;
    const request = () => {
      const i = number++;
      return {
        path: '/v2/messages',
        headers,
        body: JSON.stringify({
          from: 'Bench <bench@bench.test>',
          to: [`rcpt${i}@${DOMAINS[i % 10]}`],
          subject: `Soak ${i}`,
          text: TEXT,
        }),
      };
    };
    /** Accepts `count` messages over 64 connections as fast as it goes; resolves once the sink has them all. */
    const burst = async (count: number) => {
      const before = sink.count();
      let sent = 0;
      const t0 = performance.now();
      const r = await closedLoop(
        postlog.url,
        64,
        600,
        request,
        (s) => s === 202,
        () => sent++ < count,
      );
      if (r.errors > 0) throw new Error(`${r.errors} messages were not accepted: ${r.firstError}`);
      await waitUntil(`${count} messages were not delivered`, () => sink.count() - before >= count, 300_000);
      return count / ((performance.now() - t0) / 1000);
    };
    // capacity: end to end (accepted and delivered) on a warmed-up server, as the delivery bench measures it
    let capacity = num('BENCH_SOAK_RATE', 0) * 2;
    if (capacity <= 0) {
      await burst(num('BENCH_SOAK_WARM_UP_MESSAGES', 3000));
      capacity = await burst(num('BENCH_SOAK_CAPACITY_MESSAGES', 6000));
    }
    const rate = Math.max(1, Math.round(capacity / 2));
    process.stderr.write(
      `capacity ${Math.round(capacity)} msg/s end to end; soaking at ${rate} msg/s for ${minutes} min\n`,
    );

    const deliveredBefore = sink.count();
    await scrape(postlog.url); // starts the loop-delay windows afresh
    const load = pacedLoad(postlog.url, rate, request, (s) => s === 202);
    const t0 = performance.now();
    const samples: SoakSample[] = [];
    const sample = async () => {
      const m = await scrape(postlog.url);
      const s: SoakSample = {
        t: Math.round((performance.now() - t0) / 1000),
        ...m,
        accepted: load.counts().ok,
        delivered: sink.count() - deliveredBefore,
        acceptP99Ms: p99(load.takeLatencies()),
        loadAverage: +loadavg()[0]!.toFixed(1),
      };
      samples.push(s);
      return s;
    };
    for (let k = 1; k * sampleSeconds <= soakSeconds; k++) {
      await sleep(Math.max(0, t0 + k * sampleSeconds * 1000 - performance.now()));
      const s = await sample();
      if ((k * sampleSeconds) % 60 === 0) {
        const minute = samples.filter((x) => x.t > s.t - 60);
        const loop = Object.fromEntries(
          Object.keys(s.loopP99Ms).map((p) => [p, Math.max(...minute.map((x) => x.loopP99Ms[p] ?? 0))]),
        );
        process.stderr.write(
          `minute ${(k * sampleSeconds) / 60}: RSS ${byProcess(s.rssMb, 'MB')}; loop p99 ${byProcess(loop, 'ms')}; ` +
            `queue ${s.queueDepth}; projection lag ${s.projectionLagSeconds} s ` +
            `(${s.projectionLagEvents} events, ${s.slowestProjection || 'none'}); ` +
            `database ${s.databaseMb} MB; accepted ${s.accepted}, delivered ${s.delivered}; load average ${s.loadAverage}\n`,
        );
      }
    }
    await load.stop();
    const counts = load.counts();
    // everything accepted is delivered once the load stops
    const drainSeconds = num('BENCH_SOAK_DRAIN_SECONDS', 120);
    const drained = await waitUntil('', () => sink.count() - deliveredBefore >= counts.ok, drainSeconds * 1000).then(
      () => true,
      () => false,
    );
    const limits: SoakLimits = {
      rssMbPerMinute: num('BENCH_SOAK_MAX_RSS_MB_PER_MINUTE', 2),
      liveHeapMbPerMinute: num('BENCH_SOAK_MAX_LIVE_HEAP_MB_PER_MINUTE', 1),
      queueGrowth: num('BENCH_SOAK_MAX_QUEUE_GROWTH', rate * 10),
      projectionLagGrowthSeconds: num('BENCH_SOAK_MAX_PROJECTION_LAG_GROWTH_SECONDS', 5),
      loopP99GrowthMs: num('BENCH_SOAK_MAX_LOOP_P99_GROWTH_MS', 50),
    };
    const verdict = soakVerdict(samples, soakSeconds, limits);
    const met = {
      ...verdict.met,
      accepted: counts.errors === 0 && counts.skipped === 0,
      delivered: drained,
    };
    const ok = Object.values(met).every(Boolean);
    process.stderr.write(
      `over the second half: RSS floor ${byProcess(verdict.rssFloorMbPerMinute, 'MB/min')} ` +
        `(a line through all of RSS: ${byProcess(verdict.rssMbPerMinute, 'MB/min')}); ` +
        `live heap ${byProcess(verdict.heapAfterGcMbPerMinute, 'MB/min')}; ` +
        `external floor ${byProcess(verdict.externalFloorMbPerMinute, 'MB/min')}; ` +
        `queue growth ${verdict.queueGrowth}; projection lag growth ${verdict.projectionLagGrowthSeconds} s; ` +
        `${
          ok
            ? 'met'
            : `not met: ${Object.keys(met)
                .filter((k) => !met[k as keyof typeof met])
                .join(', ')}`
        }\n`,
    );
    const series = <T>(f: (s: SoakSample) => T) => samples.map(f);
    return {
      bench: 'soak',
      postlogProcesses: process.env.BENCH_PROCESSES ?? 'auto',
      minutes,
      capacityPerSecond: Math.round(capacity),
      ratePerSecond: rate,
      load: { ...counts, deliveredAfterDrain: sink.count() - deliveredBefore },
      limits,
      ...verdict,
      series: {
        t: series((s) => s.t),
        rssMb: series((s) => s.rssMb),
        heapUsedMb: series((s) => s.heapUsedMb),
        heapAfterGcMb: series((s) => s.heapAfterGcMb),
        externalMb: series((s) => s.externalMb),
        arrayBuffersMb: series((s) => s.arrayBuffersMb),
        loopP99Ms: series((s) => s.loopP99Ms),
        queueDepth: series((s) => s.queueDepth),
        projectionLagSeconds: series((s) => s.projectionLagSeconds),
        projectionLagEvents: series((s) => s.projectionLagEvents),
        slowestProjection: series((s) => s.slowestProjection),
        databaseMb: series((s) => s.databaseMb),
        accepted: series((s) => s.accepted),
        delivered: series((s) => s.delivered),
        acceptP99Ms: series((s) => s.acceptP99Ms),
        loadAverage: series((s) => s.loadAverage),
      },
      met: ok,
      checks: met,
    };
  } finally {
    await postlog.stop();
    await sink.close();
    await dns.stop();
  }
}
