import pg from 'pg';
import type { Logger } from '../logging/index.js';

const PROBE_INTERVAL_MS = 1000;
/**
 * A server that takes longer than this to connect or to answer `SELECT 1` counts as unreachable: as
 * patient as the pool's requests are (a busy machine is slow, not down). A server that goes away is
 * noticed at once anyway, by the connection it drops.
 */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Whether this process can reach its PostgreSQL, for /ready: while the database is down (the
 * embedded server died and is being restarted, an external one is unreachable), Postlog can take
 * no traffic, and a load balancer should send it elsewhere. A connection of its own, outside the
 * pool: a probe that queued behind busy requests would report load as an outage, and a lost
 * connection says the server went away the moment it happens. It asks every second while it can
 * reach the server, and tries to connect again every second while it cannot. Logs each change.
 */
export class DatabaseReachability {
  private reachableNow = true;
  private unreachableSince = 0;
  private client: pg.Client | undefined;
  private probing: Promise<void> | undefined;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
    void this.probe(); // connected from the start: a lost connection is the quickest sign of an outage
  }

  /** True until a probe fails (the process has just used the database when it creates this). */
  get reachable(): boolean {
    return this.reachableNow;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.probing;
    await this.client
      ?.end()
      .catch((err: Error) =>
        this.logger.debug({ error: err.message }, 'closing the database reachability connection failed'),
      );
    this.client = undefined;
  }

  private probe(): Promise<void> {
    this.probing ??= this.ask().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async ask(): Promise<void> {
    if (this.stopped) return;
    try {
      const client = this.client ?? (await this.connect());
      await client.query('SELECT 1');
      // an answer read together with the news of the connection's end is no sign of life
      if (this.client === client) this.mark(true);
    } catch (err) {
      this.drop(this.client);
      this.mark(false, (err as Error).message);
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      connectionTimeoutMillis: PROBE_TIMEOUT_MS,
      query_timeout: PROBE_TIMEOUT_MS,
    });
    // a lost connection (the server died): unreachable at once, not at the next probe
    client.on('error', (err) => {
      if (this.client !== client) return; // one given up already (a timed-out probe): old news
      this.drop(client);
      this.mark(false, err.message);
    });
    try {
      await client.connect();
    } catch (err) {
      client.end().catch(() => undefined); // never connected: nothing to close cleanly
      throw err;
    }
    if (this.stopped) {
      await client.end();
      throw new Error('stopped');
    }
    this.client = client;
    return client;
  }

  private drop(client: pg.Client | undefined): void {
    if (client === undefined) return;
    if (this.client === client) this.client = undefined;
    client.end().catch(() => undefined); // the connection is already broken: ending it only frees the socket
  }

  private mark(reachable: boolean, error?: string): void {
    if (this.stopped || reachable === this.reachableNow) return;
    this.reachableNow = reachable;
    if (!reachable) {
      this.unreachableSince = Date.now();
      this.logger.error({ error }, 'the database is unreachable: /ready answers 503 until it is back');
    } else {
      this.logger.info({ downMs: Date.now() - this.unreachableSince }, 'the database is reachable again');
    }
  }
}
