import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/index.js';
import { cpuBudget, MAX_AUTO_PROCESSES } from './cpu-budget.js';
import type { Logger } from '../logging/index.js';
import { migrate, openDatabase, type Database } from '../postgres/index.js';
import { ToSupervisor, type ToProcess } from './messages.js';
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

export interface Supervisor {
  /** e.g. http://127.0.0.1:5000, as the first listening process reported it. */
  httpUrl: string;
  /** Stops every process (each finishes its in-flight work), then the embedded database. */
  stop(timeoutMs: number): Promise<void>;
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

/**
 * `postlog start` with several processes. The supervisor owns the database (it starts the
 * embedded PostgreSQL and migrates once), forks one cluster worker per planned process (listening
 * processes share the HTTP and SMTP ports through the cluster module), restarts a process that
 * dies, and aggregates their metrics for /metrics. Start-up fails as a whole when any process
 * fails to start, with that process's error in the log.
 */
export async function startSupervisor(config: Config, logger: Logger, plan: PlannedProcess[], cliPath: string): Promise<Supervisor> {
  const log = logger.child({ component: 'supervisor' });
  const database: Database = await openDatabase(config, log);
  try {
    await migrate(database.pool, log);
  } catch (err) {
    await database.close();
    throw err;
  }
  // the workers run `postlog start` with their share of the roles (no --roles: the env says)
  cluster.setupPrimary({ exec: cliPath, args: ['start'] });
  const children = new Map<number, Child>();
  let stopping = false;
  let failures = 0;
  let httpUrl = '';
  let collectId = 0;
  const collecting = new Map<number, { pending: Set<number>; results: object[][]; done: () => void }>();

  let startupSettled = false;
  let startupResolve!: () => void;
  let startupReject!: (err: Error) => void;
  const startup = new Promise<void>((resolve, reject) => {
    startupResolve = resolve;
    startupReject = reject;
  });

  const send = (worker: Worker, message: ToProcess) => {
    if (worker.isConnected()) worker.send(message);
  };

  const fork = async (p: PlannedProcess): Promise<void> => {
    const worker = cluster.fork({
      POSTLOG_ROLES: p.roles.join(','),
      POSTLOG_PROCESSES: '1',
      POSTLOG_PROCESS_NAME: p.name,
      // the background process serves /health and /metrics on loopback only, on a port of its own:
      // on the shared port it would be handed API requests it has no routes for
      ...(p.listens ? {} : { POSTLOG_HTTP_HOST: '127.0.0.1', POSTLOG_HTTP_PORT: String(await freeLoopbackPort()) }),
    });
    const child: Child = { plan: p, worker, ready: false, startedAt: Date.now() };
    children.set(worker.id, child);
    worker.on('message', (raw: unknown) => {
      const parsed = ToSupervisor.safeParse(raw);
      if (!parsed.success) return;
      const message = parsed.data;
      if (message.type === 'postlog:ready') {
        child.ready = true;
        if (p.listens && !httpUrl) httpUrl = message.httpUrl;
        log.debug({ process: p.name, processPid: worker.process.pid }, 'process ready');
        if ([...children.values()].every((c) => c.ready)) {
          for (const c of children.values()) send(c.worker, { type: 'postlog:all-ready' });
          if (!startupSettled) {
            startupSettled = true;
            startupResolve();
          }
        }
      } else if (message.type === 'postlog:metrics-request') {
        void collectMetrics().then(
          (text) => send(worker, { type: 'postlog:metrics', id: message.id, text }),
          (err: Error) => send(worker, { type: 'postlog:metrics', id: message.id, error: err.message }),
        );
      } else if (message.type === 'postlog:metrics-json') {
        const c = collecting.get(message.id);
        if (c && c.pending.delete(worker.id)) {
          c.results.push(message.metrics as object[]);
          if (c.pending.size === 0) c.done();
        }
      }
    });
    worker.on('exit', (code, signal) => {
      children.delete(worker.id);
      for (const c of collecting.values()) if (c.pending.delete(worker.id) && c.pending.size === 0) c.done();
      if (stopping) return;
      if (!child.ready) {
        // a process that cannot start (port in use, bad certificate…) will not start on a retry either
        if (!startupSettled) {
          startupSettled = true;
          startupReject(new Error(`process ${p.name} (${p.roles.join(',')}) exited during start-up (code ${code ?? signal}); its log lines above say why`));
          return;
        }
      }
      const ranMs = Date.now() - child.startedAt;
      // a process that keeps dying is started again less and less often
      failures = ranMs > 60_000 ? 1 : failures + 1;
      const delay = RESTART_DELAYS_MS[Math.min(failures - 1, RESTART_DELAYS_MS.length - 1)]!;
      log.error({ process: p.name, processPid: worker.process.pid, code, signal, restartInMs: delay }, `process ${p.name} exited unexpectedly; starting it again`);
      setTimeout(() => {
        if (!stopping) void fork(p).catch((err: Error) => log.error({ process: p.name, error: err.message }, 'could not start the process again'));
      }, delay).unref();
    });
  };

  /** Every live process's metrics, aggregated (counters summed; gauges as each declares). */
  const collectMetrics = async (): Promise<string> => {
    const id = ++collectId;
    const targets = [...children.values()].filter((c) => c.worker.isConnected());
    const results: object[][] = [];
    await new Promise<void>((resolve) => {
      const entry = { pending: new Set(targets.map((c) => c.worker.id)), results, done: () => resolve() };
      collecting.set(id, entry);
      if (entry.pending.size === 0) resolve();
      for (const c of targets) send(c.worker, { type: 'postlog:metrics-collect', id });
      // a process that does not answer (busy starting or stopping) is left out of this scrape
      setTimeout(resolve, 3000).unref();
    });
    collecting.delete(id);
    return AggregatorRegistry.aggregate(results).metrics();
  };

  const stopAll = async (timeoutMs: number): Promise<void> => {
    stopping = true;
    const exits = [...children.values()].map((c) => new Promise<void>((r) => (c.worker.isDead() ? r() : c.worker.once('exit', () => r()))));
    for (const c of children.values()) if (!c.worker.isDead()) c.worker.process.kill('SIGTERM');
    const timedOut = await Promise.race([Promise.all(exits).then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), timeoutMs).unref())]);
    if (timedOut) {
      log.error({ timeoutMs }, 'processes did not stop in time; killing them');
      for (const c of children.values()) if (!c.worker.isDead()) c.worker.process.kill('SIGKILL');
      await Promise.all(exits);
    }
    await database.close();
  };

  try {
    for (const p of plan) await fork(p);
    await startup;
  } catch (err) {
    await stopAll(config.shutdownTimeoutMs);
    throw err;
  }
  return { httpUrl, stop: (timeoutMs) => stopAll(timeoutMs) };
}
