/**
 * `npm run bench -- delivery`: Postlog against Postfix and Haraka, each plain and DKIM-signing, on one
 * machine, in one run, with one client and one sink. Every system takes the same messages from the same
 * pipelining SMTP client over 64 connections (Postlog's HTTP path: the same count of HTTP connections)
 * and delivers them to the same counting smtp-server sink on loopback; a run is timed from the first
 * message handed over to the last one received. Each system is started afresh and warmed up first, and
 * the rounds reverse their order, so a burst of load from the machine's neighbours does not fall on one
 * side. Rates are pooled over the rounds; CPU per message is split into the system's own processes (from
 * /proc, PostgreSQL included for Postlog) and this process's client and sink.
 */
import { dnsmasqAvailable } from '../test/helpers/dns-server.js';
import { freePort } from '../test/helpers/ports.js';
import { startSmtpSink } from '../test/helpers/smtp-sink.js';
import { haraka, harakaDkim } from './delivery/haraka.js';
import { postfixOpenDkim, postfixRelay } from './delivery/postfix.js';
import { postlogHttp, postlogSmtp } from './delivery/postlog.js';
import { ownCpuMs, processTreeCpuMs } from './delivery/process-cpu.js';
import type { DeliverySystem, Reference, SystemKey } from './delivery/system.js';
import { machineBusyMs } from './support.js';

const SYSTEMS: DeliverySystem[] = [postlogHttp, postlogSmtp, postfixRelay, postfixOpenDkim, haraka, harakaDkim];
const SIZES = { '3k': 3 * 1024, '100k': 100 * 1024 } as const;
type Size = keyof typeof SIZES;
const REFERENCES: Reference[] = ['postfix', 'postfix-dkim', 'haraka', 'haraka-dkim'];
/** Postlog's msg/s over the reference's: ≥ 1.5 against the ones that sign, ≥ 1.2 against the others. */
const TARGET_RATIO: Record<Reference, number> = { postfix: 1.2, 'postfix-dkim': 1.5, haraka: 1.2, 'haraka-dkim': 1.5 };
/** Postlog's own CPU (its processes and PostgreSQL) per 100 KB message, in µs. */
const TARGET_OWN_CPU_100K = 4000;

interface Run {
  messages: number;
  seconds: number;
  perSecond: number;
  /**
   * CPU per message, µs: the whole machine; the system's own processes, and PostgreSQL's part of them
   * (0 for the others); this process (client and sink).
   */
  machineCpuUs: number;
  systemCpuUs: number;
  postgresCpuUs: number;
  benchCpuUs: number;
}

const isPostgres = (comm: string) => comm === 'postgres';

async function waitForCount(count: () => number, target: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (count() < target) {
    if (Date.now() > deadline) throw new Error(`only ${count()} of ${target} messages arrived in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One system, started afresh on its own sink: `warmUp` messages, then `n` timed ones. */
async function measure(system: DeliverySystem, bytes: number, n: number, warmUp: number): Promise<Run> {
  const sink = await startSmtpSink('127.0.0.3', await freePort(), { tls: false, countOnly: true });
  const running = await system.start({ host: sink.host, port: sink.port }, bytes);
  try {
    if (warmUp > 0) {
      await running.submit(0, warmUp);
      await waitForCount(sink.count, warmUp, 600_000);
    }
    const t0 = performance.now();
    const machine0 = machineBusyMs();
    const own0 = ownCpuMs();
    const tree0 = processTreeCpuMs(running.pids());
    const postgres0 = processTreeCpuMs(running.pids(), isPostgres);
    await running.submit(warmUp, n);
    await waitForCount(() => sink.count() - warmUp, n, 600_000);
    const seconds = (performance.now() - t0) / 1000;
    // the sink keeps the first message: a signing system that did not sign is set up wrong, not fast
    const head = sink.received[0]?.raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
    if (system.signs !== /^DKIM-Signature:/im.test(head))
      throw new Error(`${system.key}: a DKIM-Signature was ${system.signs ? 'expected' : 'not expected'}: ${head}`);
    const perMessage = (ms: number) => Math.round((ms * 1000) / n);
    return {
      messages: n,
      seconds: +seconds.toFixed(2),
      perSecond: Math.round(n / seconds),
      machineCpuUs: perMessage(machineBusyMs() - machine0),
      systemCpuUs: perMessage(processTreeCpuMs(running.pids()) - tree0),
      postgresCpuUs: perMessage(processTreeCpuMs(running.pids(), isPostgres) - postgres0),
      benchCpuUs: perMessage(ownCpuMs() - own0),
    };
  } finally {
    await running.stop();
    await sink.close();
  }
}

/** The rounds of one system pooled: messages over seconds, CPU weighted by messages; each round kept. */
function pooled(runs: Run[]) {
  const messages = runs.reduce((a, r) => a + r.messages, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const cpu = (k: 'machineCpuUs' | 'systemCpuUs' | 'postgresCpuUs' | 'benchCpuUs') =>
    Math.round(runs.reduce((a, r) => a + r[k] * r.messages, 0) / messages);
  return {
    perSecond: Math.round(messages / seconds),
    machineCpuUs: cpu('machineCpuUs'),
    systemCpuUs: cpu('systemCpuUs'),
    postgresCpuUs: cpu('postgresCpuUs'),
    benchCpuUs: cpu('benchCpuUs'),
    rounds: runs.map((r) => r.perSecond),
  };
}

const list = (name: string, fallback: string) =>
  (process.env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export async function run() {
  if (!dnsmasqAvailable()) throw new Error('the delivery benchmark needs dnsmasq (apt-get install dnsmasq-base)');
  const rounds = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 2)) || 2);
  const sizes = list('BENCH_SIZES', '3k,100k') as Size[];
  const wanted = list('BENCH_SYSTEMS', SYSTEMS.map((s) => s.key).join(','));
  const skipped: Record<string, string> = {};
  const systems = SYSTEMS.filter((s) => {
    const why = wanted.includes(s.key) ? s.unavailable() : 'not in BENCH_SYSTEMS';
    if (why) skipped[s.key] = why;
    return !why;
  });
  for (const [key, why] of Object.entries(skipped)) process.stderr.write(`${key}: skipped, ${why}\n`);
  const results: Partial<Record<Size, Partial<Record<SystemKey, ReturnType<typeof pooled>>>>> = {};
  for (const size of sizes) {
    const bytes = SIZES[size];
    if (!bytes) throw new Error(`BENCH_SIZES: ${size} is not one of ${Object.keys(SIZES).join(', ')}`);
    // measured warm, as servers run: a fresh Postlog takes about ten seconds to reach its rate (V8
    // compiles the hot paths, new PostgreSQL connections fill their caches); Postfix starts its
    // processes on demand, Haraka its workers' pools
    const n = Number(size === '3k' ? (process.env.BENCH_MESSAGES ?? 3000) : (process.env.BENCH_MESSAGES_100K ?? 1000));
    const warmUp = Number(
      size === '3k' ? (process.env.BENCH_WARM_UP_MESSAGES ?? 6000) : (process.env.BENCH_WARM_UP_MESSAGES_100K ?? 500),
    );
    const runs = new Map<SystemKey, Run[]>();
    for (let r = 0; r < rounds; r++) {
      for (const system of r % 2 === 0 ? systems : [...systems].reverse()) {
        const m = await measure(system, bytes, n, warmUp);
        runs.set(system.key, [...(runs.get(system.key) ?? []), m]);
        process.stderr.write(
          `${size} round ${r + 1}: ${system.label}: ${m.perSecond} msg/s (${n} in ${m.seconds} s); CPU µs/msg ` +
            `${m.systemCpuUs} its own (PostgreSQL ${m.postgresCpuUs}) + ${m.benchCpuUs} client and sink ` +
            `(machine ${m.machineCpuUs})\n`,
        );
      }
    }
    results[size] = Object.fromEntries([...runs].map(([k, v]) => [k, pooled(v)]));
  }

  // <path>/<size>/<reference>: Postlog's pooled msg/s over the reference's, same run
  const ratios: Record<string, number> = {};
  const met: Record<string, boolean> = {};
  for (const size of sizes)
    for (const path of ['http', 'smtp'] as const)
      for (const reference of REFERENCES) {
        const postlog = results[size]?.[`postlog-${path}`];
        const other = results[size]?.[reference];
        if (!postlog || !other) continue;
        const key = `${path}/${size}/${reference}`;
        ratios[key] = +(postlog.perSecond / other.perSecond).toFixed(2);
        met[key] = ratios[key] >= TARGET_RATIO[reference];
      }
  for (const path of ['http', 'smtp'] as const) {
    const own = results['100k']?.[`postlog-${path}`]?.systemCpuUs;
    if (own !== undefined) met[`${path}/100k/own-cpu`] = own <= TARGET_OWN_CPU_100K;
  }
  for (const size of sizes)
    process.stderr.write(
      `${size}: ${Object.entries(results[size] ?? {})
        .map(([k, v]) => `${k} ${v.perSecond} msg/s`)
        .join(', ')}\n`,
    );
  return {
    bench: 'delivery',
    postlogProcesses: process.env.BENCH_PROCESSES ?? 'auto',
    rounds,
    results,
    ratios,
    targets: { ratioVsSigning: 1.5, ratioVsNonSigning: 1.2, postlogOwnCpuUs100k: TARGET_OWN_CPU_100K },
    met,
    skipped,
  };
}
