import cluster from 'node:cluster';
import type { Registry } from 'prom-client';
import { DATABASE_KIND_ENV, DatabaseKind, ToProcess, type ToSupervisor } from './messages.js';

/** True in a process the supervisor started (a cluster worker). */
export const isSupervised = (): boolean => cluster.isWorker;

/** A supervised process's side of the IPC channel: readiness, and metrics of all processes. */
export class SupervisorLink {
  private allReady = false;
  private registry: Registry | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();

  constructor() {
    process.on('message', (raw: unknown) => {
      const parsed = ToProcess.safeParse(raw);
      if (!parsed.success) return;
      const message = parsed.data;
      if (message.type === 'postlog:all-ready') this.allReady = true;
      else if (message.type === 'postlog:metrics-collect') {
        // a gauge that cannot be collected (its database is down) leaves this process out of the scrape
        void (this.registry?.getMetricsAsJSON() ?? Promise.resolve([])).then(
          (metrics) => this.send({ type: 'postlog:metrics-json', id: message.id, metrics }),
          () => this.send({ type: 'postlog:metrics-json', id: message.id, metrics: [] }),
        );
      } else if (message.type === 'postlog:metrics') {
        const w = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        if (message.text !== undefined) w?.resolve(message.text);
        else w?.reject(new Error(message.error ?? 'no metrics'));
      }
    });
  }

  /** The database the supervisor opened (this process reaches it by URL either way). */
  readonly databaseKind = DatabaseKind.safeParse(process.env[DATABASE_KIND_ENV]).data;

  /** Whether every process of this Postlog finished start-up. */
  get everyProcessReady(): boolean {
    return this.allReady;
  }

  /** This process is up; its metrics come from `registry`. */
  ready(httpUrl: string, registry: Registry): void {
    this.registry = registry;
    this.send({ type: 'postlog:ready', httpUrl });
  }

  /** The metrics of every process, aggregated by the supervisor (Prometheus text). */
  metricsText(): Promise<string> {
    const id = ++this.nextId;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('the supervisor did not answer with the metrics in 5 s'));
      }, 5000);
      this.waiting.set(id, {
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.send({ type: 'postlog:metrics-request', id });
    });
  }

  private send(message: ToSupervisor): void {
    if (process.connected) process.send?.(message);
  }
}
