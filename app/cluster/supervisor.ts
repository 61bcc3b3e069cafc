import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../../infra/config/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { registerProcessGauges } from '../../infra/metrics/index.js';
import { migrate, openDatabase, type Database } from '../../infra/postgres/index.js';
import { loadTlsMaterial } from '../../infra/tls/certificate.js';
import { checkListenPorts, plannedListeners } from '../listen-ports.js';
import { cpuBudget, MAX_AUTO_PROCESSES } from './cpu-budget.js';
import { DATABASE_KIND_ENV, ToSupervisor, type ToProcess } from './messages.js';
import type { PlannedProcess } from './process-plan.js';

/** auto: one process per CPU this Postlog may use, at most MAX_AUTO_PROCESSES. */
export function processCount(setting: Config['processes']): number {
  return setting === 'auto' ? Math.min(cpuBudget(), MAX_AUTO_PROCESSES) : setting;
}

interface Child {
  plan: PlannedProcess;
  worker: Worker;
  ready: boolean;
  startedAt: number;
}

/** A port free on loopback now (the kernel's choice), for a process that must not share ports. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const RESTART_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000];
/** A process that ran this long before it died starts its back-off afresh. */
const HEALTHY_RUN_MS = 60_000;
/** How long a scrape waits for the processes' metrics; a process that does not answer is left out. */
const COLLECT_TIMEOUT_MS = 3000;

/**
 * `postlog start` with several processes. The supervisor owns the database (it starts the
 * embedded PostgreSQL and migrates once; the processes connect to it by URL and never start or
 * stop it), forks one cluster worker per planned process (listening processes share the HTTP and
 * SMTP ports through the cluster module), restarts a process that dies, and aggregates their
 * metrics for /metrics. Start-up fails as a whole when any process fails to start, with that
 * process's error in the log. `stop()` may be called at any time, also during start-up.
 */
export class Supervisor {
  /** e.g. http://127.0.0.1:5000, as the first listening process reported it. */
  httpUrl = '';
  private readonly log: Logger;
  private database: Database | undefined;
  private readonly children = new Map<number, Child>();
  /** Consecutive quick deaths per planned process, for its restart back-off. */
  private readonly failures = new Map<string, number>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly collecting = new Map<number, { pending: Set<number>; results: object[][]; done: () => void }>();
  private collectId = 0;
  private everReady = false;
  /** The supervisor's own figures, shown with the processes' in /metrics. */
  private readonly registry = new Registry();
  private readonly restarts = new Counter({
    name: 'postlog_process_restarts_total',
    help: 'Processes the supervisor started again after they died, by process',
    labelNames: ['process'],
    registers: [this.registry],
  });
  private stopping: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private startup: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(
    private readonly config: Config,
    logger: Logger,
    private readonly plan: PlannedProcess[],
    private readonly cliPath: string,
  ) {
    this.log = logger.child({ component: 'supervisor' });
    // the supervisor's own memory and loop, shown beside its processes'
    registerProcessGauges(this.registry, 'supervisor');
    const children = this.children;
    new Gauge({
      name: 'postlog_processes',
      help: 'Processes of this Postlog by state: running (started and ready), starting, or planned but not running',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const ready = [...children.values()].filter((c) => c.ready).length;
        this.set({ state: 'running' }, ready);
        this.set({ state: 'starting' }, children.size - ready);
        this.set({ state: 'down' }, Math.max(0, plan.length - children.size));
      },
    });
  }

  /** Resolves once every planned process is up; rejects when one cannot start or stop() is called first. */
  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  private async run(): Promise<void> {
    const startedUp = new Promise<void>((resolve, reject) => (this.startup = { resolve, reject }));
    startedUp.catch(() => undefined); // awaited below; stop() may reject it before that
    // every port of every process, before any starts: a second `postlog start` on taken ports must not
    // start its background process (an MTA with this start's settings) while its web process fails
    await checkListenPorts(plannedListeners(this.config), { probe: true });
    this.database = await openDatabase(this.config, this.log);
    if (this.stopping) throw new Error('stopped during start-up');
    await migrate(this.database.pool, this.log);
    if (this.stopping) throw new Error('stopped during start-up');
    // A self-signed certificate is made here, once: processes that each made their own at the
    // same time could read one's key with the other's certificate, and fail to start.
    if (this.config.roles.includes('smtp') || this.config.roles.includes('inbound')) {
      await loadTlsMaterial({
        certFile: this.config.tlsCertFile,
        keyFile: this.config.tlsKeyFile,
        dataDir: this.config.dataDir,
        hostname: this.config.hostname,
        logger: this.log,
      });
    }
    // the workers run `postlog start` with their share of the roles (no --roles: the env says)
    cluster.setupPrimary({ exec: this.cliPath, args: ['start'] });
    for (const p of this.plan) await this.fork(p);
    await startedUp;
  }

  /**
   * Stops every process (each finishes its in-flight work, up to timeoutMs), then the embedded
   * database. During start-up it first lets start-up unwind (no process is forked after that).
   */
  stop(timeoutMs: number): Promise<void> {
    this.stopping ??= (async () => {
      this.startup?.reject(new Error('stopped during start-up'));
      await this.starting?.catch(() => undefined);
      for (const t of this.restartTimers) clearTimeout(t);
      this.restartTimers.clear();
      const live = [...this.children.values()].filter((c) => !c.worker.isDead());
      const exits = live.map((c) => new Promise<void>((r) => c.worker.once('exit', () => r())));
      for (const c of live) c.worker.process.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.all(exits).then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.log.error({ timeoutMs }, 'processes did not stop in time; killing them');
        for (const c of live) if (!c.worker.isDead()) c.worker.process.kill('SIGKILL');
        await Promise.all(exits);
      }
      await this.database?.close();
    })();
    return this.stopping;
  }

  private send(worker: Worker, message: ToProcess): void {
    if (worker.isConnected()) worker.send(message);
  }

  private async fork(p: PlannedProcess): Promise<void> {
    // the background process serves /health and /metrics on loopback only, on a port of its own:
    // on the shared port it would be handed API requests it has no routes for
    const ownHttp = p.listens
      ? {}
      : { POSTLOG_HTTP_HOST: '127.0.0.1', POSTLOG_HTTP_PORT: String(await freeLoopbackPort()) };
    if (this.stopping) return;
    const worker = cluster.fork({
      POSTLOG_ROLES: p.roles.join(','),
      POSTLOG_PROCESSES: '1',
      POSTLOG_PROCESS_NAME: p.name,
      // by URL: a process never starts (and so never owns or stops) the embedded server itself
      POSTLOG_DATABASE_URL: this.database!.connectionString,
      // … so its own openDatabase() calls it external: it says what the supervisor opened instead
      [DATABASE_KIND_ENV]: this.database!.kind,
      ...ownHttp,
    });
    const child: Child = { plan: p, worker, ready: false, startedAt: Date.now() };
    this.children.set(worker.id, child);
    worker.on('message', (raw: unknown) => this.onMessage(child, raw));
    worker.on('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onMessage(child: Child, raw: unknown): void {
    const parsed = ToSupervisor.safeParse(raw);
    if (!parsed.success) return;
    const message = parsed.data;
    const { worker, plan: p } = child;
    if (message.type === 'postlog:ready') {
      child.ready = true;
      if (p.listens && !this.httpUrl) this.httpUrl = message.httpUrl;
      this.log.debug({ process: p.name, processPid: worker.process.pid }, 'process ready');
      const ready = [...this.children.values()].filter((c) => c.ready).length;
      // every planned process, not just those forked so far
      if (ready === this.plan.length) {
        for (const c of this.children.values()) this.send(c.worker, { type: 'postlog:all-ready' });
        this.everReady = true;
        this.startup?.resolve();
      }
    } else if (message.type === 'postlog:metrics-request') {
      void this.collectMetrics().then(
        (text) => this.send(worker, { type: 'postlog:metrics', id: message.id, text }),
        (err: Error) => this.send(worker, { type: 'postlog:metrics', id: message.id, error: err.message }),
      );
    } else if (message.type === 'postlog:metrics-json') {
      const c = this.collecting.get(message.id);
      if (c?.pending.delete(worker.id)) {
        c.results.push(message.metrics as object[]);
        if (c.pending.size === 0) c.done();
      }
    }
  }

  private onExit(child: Child, code: number | null, signal: string | null): void {
    const { worker, plan: p } = child;
    this.children.delete(worker.id);
    for (const c of this.collecting.values()) if (c.pending.delete(worker.id) && c.pending.size === 0) c.done();
    if (this.stopping) return;
    if (!this.everReady) {
      // a process that cannot start (port in use, bad certificate…) will not start on a retry either
      this.startup?.reject(
        new Error(
          `process ${p.name} (${p.roles.join(',')}) exited during start-up (code ${code ?? signal}); its log lines above say why`,
        ),
      );
      return;
    }
    // a process that keeps dying is started again less and less often
    const failures = Date.now() - child.startedAt > HEALTHY_RUN_MS ? 1 : (this.failures.get(p.name) ?? 0) + 1;
    this.failures.set(p.name, failures);
    const delay = RESTART_DELAYS_MS[Math.min(failures - 1, RESTART_DELAYS_MS.length - 1)]!;
    this.log.error(
      { process: p.name, processPid: worker.process.pid, code, signal, restartInMs: delay },
      `process ${p.name} exited unexpectedly; starting it again`,
    );
    this.restarts.inc({ process: p.name });
    // a referenced timer: it keeps the supervisor alive while no process is
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      this.fork(p).catch((err: Error) =>
        this.log.error({ process: p.name, error: err.message }, 'could not start the process again'),
      );
    }, delay);
    this.restartTimers.add(timer);
  }

  /** Every live process's metrics, aggregated (counters summed; gauges as each declares). */
  private async collectMetrics(): Promise<string> {
    const id = ++this.collectId;
    const targets = [...this.children.values()].filter((c) => c.worker.isConnected());
    const results: object[][] = [];
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const entry = { pending: new Set(targets.map((c) => c.worker.id)), results, done: () => resolve() };
      this.collecting.set(id, entry);
      if (entry.pending.size === 0) resolve();
      for (const c of targets) this.send(c.worker, { type: 'postlog:metrics-collect', id });
      timer = setTimeout(resolve, COLLECT_TIMEOUT_MS);
    });
    clearTimeout(timer);
    this.collecting.delete(id);
    results.push(await this.registry.getMetricsAsJSON());
    return AggregatorRegistry.aggregate(results).metrics();
  }
}
