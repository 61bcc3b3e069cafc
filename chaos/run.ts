/**
 * `npm run chaos`: a real `postlog start` under a steady load while faults fire at seeded random
 * moments, then the accounting: acknowledged, delivered, lost (must be 0), duplicates (within the
 * bound docs/delivery.md states) and, per fault, how long until /ready and until the queue drained.
 * The last line of its output is one JSON object with every figure; it exits 1 when a check fails.
 * CHAOS_SEED replays a run, CHAOS_SECONDS (180) sets its length, CHAOS_RATE (4) messages per second.
 */
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type DnsServer, dnsmasqAvailable, freeUdpPort, startDnsServer } from '../test/helpers/dns-server.js';
import { freePort } from '../test/helpers/ports.js';
import { baseEnv, runCli, tempDataDir } from '../test/helpers/postlog-process.js';
import { account, type FaultRecord } from './accounting.js';
import { fillDisk, smallDisk, unmountSmallDisk } from './disk.js';
import { startLoad } from './load.js';
import { PostlogGroup, readyAgain } from './postlog-group.js';
import { FAULT_KINDS, type FaultKind, type PlannedFault, planFaults, seededRandom } from './schedule.js';
import { type ChaosSink, collectDeliveries, startSinks } from './sinks.js';

const number = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not "${raw}"`);
  return value;
};
const seed = number('CHAOS_SEED', Math.floor(Math.random() * 2 ** 31));
const seconds = number('CHAOS_SECONDS', 180);
const rate = number('CHAOS_RATE', 4);
const drainSeconds = number('CHAOS_DRAIN_SECONDS', 240);
/** connections per MX host the MTA may open: with three sinks, what one crash can repeat at most */
const CONNECTIONS_PER_DESTINATION = 2;

const say = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`);

if (!dnsmasqAvailable()) {
  console.error('the chaos run needs dnsmasq (Debian package dnsmasq-base)');
  process.exit(2);
}

/** Whatever stops the run half-way (an exception) must not leave dnsmasq or the sinks behind. */
const stopPeers: (() => Promise<void>)[] = [];

async function main(): Promise<number> {
  const workDir = tempDataDir('postlog-chaos-');
  const dataDir = join(workDir, 'data');
  const logPath = join(workDir, 'postlog.log');
  const disk = smallDisk(dataDir, number('CHAOS_DISK_MB', 1024));
  stopPeers.push(async () => {
    if (disk.mounted) unmountSmallDisk(dataDir);
  });
  const mtaPort = await freePort();
  const sinks = await startSinks(mtaPort);
  const dnsPort = await freeUdpPort();
  const zone = {
    mx: sinks.map((s) => [s.domain, `mx.${s.domain}`, 10] as [string, string, number]),
    a: sinks.map((s) => [`mx.${s.domain}`, s.sink.host] as [string, string]),
    local: ['test'],
  };
  let dns: DnsServer | undefined = await startDnsServer(zone, dnsPort);
  stopPeers.push(
    async () => void (await dns?.stop()),
    async () => void (await Promise.all(sinks.map((s) => s.sink.close()))),
  );
  const env = await baseEnv(dataDir, {
    // web.1 (api, smtp, …) and a worker (mta, projector): the worker can be killed on its own
    POSTLOG_PROCESSES: '2',
    POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
    POSTLOG_MTA_PORT: String(mtaPort),
    POSTLOG_HOSTNAME: 'chaos.test',
    POSTLOG_MTA_MAX_CONNECTIONS_PER_DESTINATION: String(CONNECTIONS_PER_DESTINATION),
    // a killed worker's messages come back after 10 s, deferred ones are retried within seconds
    POSTLOG_MTA_LEASE_SECONDS: '10',
    POSTLOG_MTA_POLL_MS: '100',
    POSTLOG_RETRY_DELAYS: '2,4,8',
    POSTLOG_API_RATE_LIMIT: '100000',
    POSTLOG_LOG_LEVEL: 'info',
  });
  const postlog = new PostlogGroup(env, logPath);
  stopPeers.unshift(() => postlog.stop());
  // however the run ends (a failed start, an exception): nothing of it stays running or mounted
  process.on('exit', () => {
    postlog.killNow();
    if (disk.mounted) unmountSmallDisk(dataDir);
  });
  say(`seed ${seed}, ${seconds} s at ${rate} messages/s; work dir ${workDir} (Postlog's log: ${logPath})`);
  await postlog.start();
  const cli = async (args: string[]) => {
    const r = await runCli(args, env);
    if (r.code !== 0) throw new Error(`postlog ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const init = JSON.parse(await cli(['init', '--json'])) as {
    serverId: string;
    apiKey: string;
    smtp: { username: string; password: string };
  };
  await cli(['domain', 'add', 'sender.test', '--server', init.serverId, '--verified', '--json']);

  const kinds = FAULT_KINDS.filter((k) => k !== 'disk-full' || disk.mounted);
  const plan = planFaults(seed, seconds, kinds);
  say(`fault schedule: ${plan.map((f) => `${f.kind}@${f.atSeconds}s`).join(', ') || '(none: run longer)'}`);
  if (!disk.mounted) say(`disk-full skipped: ${disk.reason}`);

  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const load = startLoad({
    url: postlog.url,
    apiKey: init.apiKey,
    smtpPort: Number(env.POSTLOG_SUBMISSION_PORT),
    smtp: init.smtp,
    rate,
    recipients: sinks.flatMap((s) => s.recipients).sort((a, b) => a.slice(1).localeCompare(b.slice(1))),
    now,
  });
  const collector = collectDeliveries(sinks, now);
  const choose = seededRandom(seed ^ 0x5eed);
  const pickSink = (): ChaosSink => sinks[Math.floor(choose() * sinks.length)]!;
  const hold = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

  /** Fires one fault, undoes it after its hold, and waits for /ready 200. */
  async function fire(f: PlannedFault): Promise<FaultRecord> {
    const startMs = now();
    let detail = '';
    /** a kill is over when it is done; a lasting fault when it was undone */
    let endMs = startMs;
    switch (f.kind as FaultKind) {
      case 'kill-group':
        await postlog.killGroup();
        endMs = now();
        await postlog.start().catch((err: Error) => say(`restart failed: ${err.message}`));
        break;
      case 'kill-mta-worker': {
        const pid = postlog.workerPid();
        if (pid) process.kill(pid, 'SIGKILL');
        endMs = now();
        detail = pid ? `pid ${pid}` : 'no worker process found';
        break;
      }
      case 'kill-postgres': {
        const pid = postlog.postgresPid();
        if (pid) process.kill(pid, 'SIGKILL');
        endMs = now();
        detail = pid ? `pid ${pid}` : 'no postmaster.pid';
        break;
      }
      case 'sink-drop-mid-data': {
        const s = pickSink();
        for (const r of s.recipients) s.sink.behaviours.set(r, 'drop-during-data');
        await hold(f.holdSeconds);
        for (const r of s.recipients) s.sink.behaviours.delete(r);
        detail = s.domain;
        break;
      }
      case 'sink-421': {
        const s = pickSink();
        s.greeting421 = true;
        await hold(f.holdSeconds);
        s.greeting421 = false;
        detail = s.domain;
        break;
      }
      case 'sink-stall': {
        const s = pickSink();
        s.stallMs = 8_000;
        await hold(f.holdSeconds);
        s.stallMs = 0;
        detail = s.domain;
        break;
      }
      case 'dns-timeout':
        // stopped, not answering: the MTA's queries time out; then the same server on the same port
        await dns?.stop();
        dns = undefined;
        await hold(f.holdSeconds);
        dns = await startDnsServer(zone, dnsPort);
        break;
      case 'disk-full': {
        const giveBack = fillDisk(dataDir);
        await hold(f.holdSeconds);
        giveBack();
        break;
      }
    }
    if (f.holdSeconds > 0) endMs = now();
    const readyAt = await readyAgain(postlog.url, 3_000, 120_000);
    const readyMs = readyAt === undefined ? undefined : readyAt - t0;
    say(
      `${f.kind}${detail ? ` (${detail})` : ''} at ${(startMs / 1000).toFixed(1)} s` +
        `${f.holdSeconds ? ` for ${f.holdSeconds} s` : ''}: ready again after ` +
        `${readyMs === undefined ? 'never' : `${((readyMs - endMs) / 1000).toFixed(1)} s`}`,
    );
    return { kind: f.kind, startMs, endMs, ...(readyMs === undefined ? {} : { readyMs }) };
  }

  const faults: FaultRecord[] = [];
  for (const f of plan) {
    const wait = f.atSeconds * 1000 - now();
    if (wait > 0) await hold(wait / 1000);
    faults.push(await fire(f));
  }
  if (!disk.mounted) faults.push({ kind: 'disk-full', startMs: now(), endMs: now(), skipped: disk.reason });
  const rest = seconds * 1000 - now();
  if (rest > 0) await hold(rest / 1000);
  await load.stop();
  say(
    `load stopped: ${load.acknowledged.length} acknowledged of ${load.attempted()} sent ` +
      `(not acknowledged: ${load.refused.http} HTTP, ${load.refused.smtp} SMTP); draining`,
  );

  /** Acknowledged messages neither delivered nor known bounced; the API is asked about the rest now and then. */
  const bounced = new Set<string>();
  const outstanding = () => {
    collector.scan();
    const delivered = new Set(collector.deliveries.map((d) => d.id));
    return load.acknowledged.filter((a) => !delivered.has(a.id) && !bounced.has(a.id));
  };
  const askStatuses = async (ids: string[]) => {
    for (const id of ids.slice(0, 100)) {
      try {
        const res = await fetch(`${postlog.url}/v2/messages/${id}`, {
          headers: { 'x-server-api-key': init.apiKey },
          signal: AbortSignal.timeout(5_000),
        });
        const status = ((await res.json()) as { status?: string }).status;
        if (status === 'bounced' || status === 'failed') bounced.add(id);
      } catch {
        // asked again on the next round
      }
    }
  };
  const drainDeadline = Date.now() + drainSeconds * 1000;
  let lastAsked = 0;
  while (outstanding().length > 0 && Date.now() < drainDeadline) {
    if (Date.now() - lastAsked > 10_000) {
      await askStatuses(outstanding().map((a) => a.id));
      lastAsked = Date.now();
    }
    await hold(1);
  }
  await askStatuses(outstanding().map((a) => a.id));
  const drained = outstanding().length === 0;
  // late copies (a lease that ran out after a delivery) still count as duplicates
  await hold(3);
  collector.stop();
  say(`drained: ${drained} after ${((now() - seconds * 1000) / 1000).toFixed(1)} s; stopping`);

  await postlog.stop();
  await Promise.all(sinks.map((s) => s.sink.close()));
  await dns?.stop();
  if (disk.mounted) unmountSmallDisk(dataDir);

  const crashes = faults.filter((f) => f.kind === 'kill-group' || f.kind === 'kill-mta-worker').length;
  const figures = account({
    seed,
    seconds,
    acknowledged: load.acknowledged,
    deliveries: collector.deliveries,
    bounced: [...bounced],
    duplicateBound: crashes * CONNECTIONS_PER_DESTINATION * sinks.length,
    faults,
    drained,
  });
  // a passed run leaves nothing behind; a failed one keeps Postlog's and PostgreSQL's logs to read
  if (figures.ok) rmSync(workDir, { recursive: true, force: true });
  else appendFileSync(join(workDir, 'figures.json'), `${JSON.stringify(figures)}\n`);
  for (const p of figures.problems) say(`PROBLEM: ${p}`);
  if (collector.foreign() > 0) say(`${collector.foreign()} received messages had no X-Postlog-MsgID header`);
  say(
    `${figures.ok ? 'passed' : `FAILED (logs in ${workDir})`}: acknowledged ${figures.acknowledged}, ` +
      `delivered ${figures.delivered}, bounced ${figures.bounced}, lost ${figures.lost}, ` +
      `duplicates ${figures.duplicates} (bound ${figures.duplicateBound}${byFault(figures.duplicatesByFault)}); ` +
      `replay with CHAOS_SEED=${seed} CHAOS_SECONDS=${seconds} CHAOS_RATE=${rate}`,
  );
  for (const f of figures.faults)
    say(
      `  ${f.kind} at ${f.atSeconds} s: ${f.skipped ? `skipped (${f.skipped})` : `ready after ${f.readySeconds ?? 'never'} s, ` + `drained after ${f.drainedSeconds ?? 'never'} s, ${f.duplicates ?? 0} duplicates`}`,
    );
  console.log(JSON.stringify(figures));
  return figures.ok ? 0 : 1;
}

/** "; kill-group 2, disk-full 1": the duplicates per fault kind, for the summary line */
function byFault(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([kind, n]) => `${kind} ${n}`);
  return parts.length > 0 ? `; ${parts.join(', ')}` : '';
}

try {
  process.exitCode = await main();
} catch (err) {
  say(`the run broke off: ${(err as Error).stack ?? String(err)}`);
  // in order: Postlog before the disk it runs on
  for (const stop of stopPeers) await stop().catch(() => undefined);
  console.log(JSON.stringify({ seed, seconds, ok: false, problems: [`the run broke off: ${(err as Error).message}`] }));
  process.exitCode = 1;
}
// a pooled SMTP client or a timer must not keep a finished run alive
process.exit();
