import { createHash } from 'node:crypto';
import pg from 'pg';
import type { EventFilter, EventStore, RecordedEvent, Subscription } from '../infra/event-store/index.js';
import { START } from '../infra/event-store/index.js';
import type { Logger } from '../infra/logging/index.js';
import { inTransaction } from '../infra/postgres/transaction.js';
import {
  lockCheckpointAndVersion,
  moveCheckpoint,
  recordProjectionError,
  restartCheckpoint,
} from '../infra/read-models/index.js';

/** Maps a projection's table name to the one to write (the live table, or a shadow copy). */
export type TableNames = (table: string) => string;
export const liveTables: TableNames = (t) => t;

/**
 * A read model kept in PostgreSQL. `apply` runs inside the transaction that also moves the
 * checkpoint, so each event changes the rows exactly once. It must name its tables through `t`,
 * so that rebuild and verify can run it into shadow copies.
 */
export interface PostgresProjection {
  name: string;
  /** Bump to rebuild from the start of the log (after `reset`). */
  version: number;
  filter?: EventFilter;
  /** The tables it owns; rebuild copies and swaps them, verify compares them. */
  tables: string[];
  /** Columns verify ignores and rebuild carries over (operational state not derived from events), per table. */
  volatileColumns?: Record<string, string[]>;
  /** The key column (or columns, comma-separated) of each table with volatile columns. */
  keys?: Record<string, string>;
  apply(client: pg.PoolClient, events: RecordedEvent[], t: TableNames): Promise<void>;
  /** Empties the projection's tables (version change or rebuild). */
  reset(client: pg.PoolClient, t: TableNames): Promise<void>;
}

/**
 * A projection into a system outside PostgreSQL (Kafka, ClickHouse): at-least-once. `deliver`
 * resolves only once the sink has acknowledged the whole batch; the checkpoint moves after that,
 * so a crash between the two repeats the batch (sinks dedupe by event id). A slow sink slows the
 * subscription down (back-pressure), it never buffers without bound.
 */
export interface SinkProjection {
  name: string;
  /** Bump to replay the whole log into the sink (after `reset`). */
  version: number;
  filter?: EventFilter;
  batchSize?: number;
  deliver(events: RecordedEvent[]): Promise<void>;
  /** Called on a version change before the replay from the start (e.g. empty the sink's tables). */
  reset?(): Promise<void>;
  /**
   * Called each time the runner (re)subscribes from its stored checkpoint: the batches that follow
   * may have been delivered before, up to what the sink acknowledged last time.
   */
  resume?(): void;
  /** Releases the sink's connections when the runner stops. */
  close?(): Promise<void>;
}

export type Projection = PostgresProjection | SinkProjection;

export const isSinkProjection = (p: Projection): p is SinkProjection => 'deliver' in p;

export interface ProjectionRunnerOptions {
  pool: pg.Pool;
  connectionString: string;
  eventStore: EventStore;
  logger: Logger;
  /** How often a standby process tries to take over leadership. */
  standbyRetryMs?: number;
  batchSize?: number;
  onBatch?: (name: string, events: RecordedEvent[]) => void;
}

/** A stable 63-bit advisory lock key for a projection name. */
const lockKey = (name: string) =>
  createHash('sha256').update(`postlog-projection:${name}`).digest().readBigInt64BE(0).toString();

/**
 * Runs one projection: exactly one process at a time (a session advisory lock held on a
 * dedicated connection; when that process dies, its connection closes, the lock is freed and a
 * standby takes over). A failing batch is recorded with its checkpoint (its last error), logged,
 * and retried with back-off; other projections keep running.
 */
export class ProjectionRunner {
  private lockClient: pg.Client | undefined;
  private subscription: Subscription | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** The checkpoint our last commit wrote: a commit that does not find it there lost leadership. */
  private checkpoint = START;
  leader = false;

  constructor(
    private readonly projection: Projection,
    private readonly o: ProjectionRunnerOptions,
  ) {}

  start(): void {
    void this.tryLead();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.subscription?.stop();
    await this.lockClient?.end().catch(() => undefined);
    this.lockClient = undefined;
    this.leader = false;
    if (isSinkProjection(this.projection)) await this.projection.close?.();
  }

  /** One pending attempt at most: a lost connection and the failing subscription both ask for one. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // an attempt still running (e.g. its subscription is winding down) gets its turn first
      if (this.attempting) this.schedule(100);
      else void this.tryLead();
    }, ms);
    this.timer.unref();
  }

  private attempting = false;

  private async tryLead(): Promise<void> {
    this.attempting = true;
    try {
      await this.attemptLead();
    } finally {
      this.attempting = false;
    }
  }

  private async attemptLead(): Promise<void> {
    const log = this.o.logger.child({ projection: this.projection.name });
    try {
      if (!this.lockClient) {
        const client = new pg.Client({ connectionString: this.o.connectionString });
        client.on('error', (err) => {
          log.warn({ error: err.message }, 'projection leadership connection lost');
          if (this.lockClient === client) this.lockClient = undefined;
          void client.end().catch(() => undefined); // frees the socket; the lock went with the session
          this.leader = false;
          void this.subscription?.stop();
          this.schedule(1000);
        });
        await client.connect();
        if (this.stopped) {
          await client.end().catch(() => undefined); // stop() ran during connect: it could not end this one
          return;
        }
        this.lockClient = client;
      }
      const { rows } = await this.lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
        lockKey(this.projection.name),
      ]);
      if (!rows[0]?.ok) {
        this.schedule(this.o.standbyRetryMs ?? 2000);
        return;
      }
      if (!this.leader) log.info('leading projection');
      this.leader = true;
      const from = await this.prepare();
      // stop() ran while we were getting ready: it found no subscription to end, so start none
      if (this.stopped) return;
      // a sink may have taken batches after this checkpoint before (a lost leadership, a failed
      // checkpoint commit): it must check for copies again
      if (isSinkProjection(this.projection)) this.projection.resume?.();
      this.subscription = this.o.eventStore.subscribeAll(
        {
          from,
          batchSize:
            this.o.batchSize ?? (isSinkProjection(this.projection) ? this.projection.batchSize : undefined) ?? 500,
          ...(this.projection.filter ? { filter: this.projection.filter } : {}),
          onSkip: (to) => this.skipTo(to),
        },
        (events) => this.applyBatch(events),
      );
      await this.subscription.done;
      this.failures = 0;
    } catch (err) {
      // the batch in flight when stop() ran ends with "no longer leading": a clean stop, not a failure
      if (this.stopped) {
        log.debug({ error: (err as Error).message }, 'projection stopped');
        return;
      }
      this.failures++;
      const message = (err as Error).message;
      log.error({ error: message, failures: this.failures }, 'projection failed; retrying');
      await recordProjectionError(this.o.pool, this.projection.name, message).catch(() => undefined);
      this.schedule(Math.min(60_000, 500 * 2 ** Math.min(this.failures, 7)));
    }
  }

  /** Creates or resets the checkpoint row; returns where to read from. */
  private async prepare(): Promise<string> {
    const checkpoint = await inTransaction(this.o.pool, async (client) => {
      const row = await lockCheckpointAndVersion(client, this.projection.name);
      if (row && row.version > this.projection.version) {
        // a newer Postlog owns these tables (a rolling upgrade): never rebuild them backwards
        throw new Error(
          `the database holds version ${row.version} of projection ${this.projection.name}; this process knows ${this.projection.version}: upgrade it`,
        );
      }
      if (row && row.version === this.projection.version) return row.checkpoint;
      if (isSinkProjection(this.projection)) await this.projection.reset?.();
      else await this.projection.reset(client, liveTables);
      await restartCheckpoint(client, this.projection.name, this.projection.version, START);
      return START;
    });
    this.checkpoint = checkpoint;
    return checkpoint;
  }

  /** When the stored checkpoint last moved past events the projection does not read. */
  private skipStoredAt = 0;

  /**
   * The subscription looked past events this projection's filter does not take: the stored checkpoint
   * follows (at most every few seconds), so that its lag figure and a restart start there rather than
   * after its last event, which for a projection of rare events (inbound mail) is ever further back.
   */
  private async skipTo(to: { checkpoint: string; position: number }): Promise<void> {
    if (this.stopped || !this.leader || Date.now() - this.skipStoredAt < 5000) return;
    this.skipStoredAt = Date.now();
    await inTransaction(this.o.pool, async (client) => {
      if (!(await moveCheckpoint(client, this.projection.name, this.checkpoint, to)))
        throw new Error('the checkpoint moved under this runner; giving up leadership');
    });
    this.checkpoint = to.checkpoint;
  }

  private async applyBatch(events: RecordedEvent[]): Promise<void> {
    if (this.stopped || !this.leader) throw new Error('no longer leading');
    const projection = this.projection;
    // a sink is written outside the transaction, and acknowledged before the checkpoint moves
    if (isSinkProjection(projection)) await projection.deliver(events);
    const last = events[events.length - 1]!;
    await inTransaction(this.o.pool, async (client) => {
      if (!isSinkProjection(projection)) await projection.apply(client, events, liveTables);
      const moved = await moveCheckpoint(client, this.projection.name, this.checkpoint, last);
      // another runner moved the checkpoint (we lost leadership without noticing yet): write nothing
      if (!moved) throw new Error('the checkpoint moved under this runner; giving up leadership');
    });
    this.checkpoint = last.checkpoint;
    this.failures = 0;
    this.o.onBatch?.(this.projection.name, events);
  }
}
