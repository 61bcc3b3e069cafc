import { Gauge } from 'prom-client';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Metrics } from '../../infra/metrics/index.js';
import type { Database } from '../../infra/postgres/index.js';
import { depthByDestination } from '../../infra/delivery-queue/index.js';
import { blocklistStatuses } from '../../infra/blocklists/index.js';
import { projectionStatus } from '../../projections/maintenance.js';
import type { Projection } from '../../projections/runner.js';
import type { ScopeFigures } from '../../write-side/reputation/reputation-checks.js';

// Gauges computed when Prometheus scrapes. The processes that report one report the same figure
// (it comes from the database): shown once ('max'), not summed.

/** Projection lag, from the processes that run the projections. */
export function registerLagGauges(
  metrics: Metrics,
  database: Database,
  eventStore: EventStore,
  projected: Projection[],
): void {
  const names = projected.map((p) => p.name);
  // lag counts only the events a projection takes (see projectionStatus)
  const filters = Object.fromEntries(projected.map((p) => [p.name, p.filter]));
  const status = () => projectionStatus(database.pool, names, eventStore, filters);
  new Gauge({
    name: 'postlog_projection_lag_events',
    aggregator: 'max',
    help: 'Events in the log after the projection checkpoint (by global position)',
    labelNames: ['projection'],
    registers: [metrics.registry],
    async collect() {
      for (const s of await status()) this.set({ projection: s.name }, s.lagEvents ?? 0);
    },
  });
  new Gauge({
    name: 'postlog_projection_lag_seconds',
    aggregator: 'max',
    help: 'How long the oldest event a projection has not applied yet has been waiting',
    labelNames: ['projection'],
    registers: [metrics.registry],
    async collect() {
      for (const s of await status()) this.set({ projection: s.name }, s.lagSeconds);
    },
  });
}

/** Queue depth per destination, from the processes that work the queue or project it. */
export function registerQueueDepthGauge(metrics: Metrics, database: Database): void {
  new Gauge({
    name: 'postlog_queue_depth',
    aggregator: 'max',
    help: 'Messages waiting in the delivery queue, per recipient domain (largest 50)',
    labelNames: ['destination', 'state'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const d of await depthByDestination(database.pool, 50)) {
        this.set({ destination: d.destination, state: 'queued' }, d.queued);
        this.set({ destination: d.destination, state: 'held' }, d.held);
      }
    },
  });
}

/** The database's size on disk (the log, read models, indexes), from the processes that run the projections. */
export function registerDatabaseSizeGauge(metrics: Metrics, database: Database): void {
  new Gauge({
    name: 'postlog_database_size_bytes',
    aggregator: 'max',
    help: "The PostgreSQL database's size on disk (pg_database_size)",
    registers: [metrics.registry],
    async collect() {
      const { rows } = await database.pool.query<{ bytes: string }>(
        'SELECT pg_database_size(current_database()) AS bytes',
      );
      this.set(Number(rows[0]!.bytes));
    },
  });
}

/**
 * The reputation guard's rates (a fraction, per server, sending domain — '' for the whole server — and
 * kind) and pauses (1 paused, 0 not), as the last check in this process saw them.
 */
export function registerReputationGauges(metrics: Metrics, figures: () => ScopeFigures[]): void {
  new Gauge({
    name: 'postlog_reputation_rate',
    aggregator: 'max',
    help: 'Complaint and hard-bounce rates over the reputation window (a fraction), per server and sending domain',
    labelNames: ['server', 'domain', 'kind'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const f of figures())
        for (const kind of ['complaint', 'hard_bounce'] as const)
          this.set({ server: f.serverId, domain: f.domain ?? '', kind }, f.rates[kind].rate);
    },
  });
  new Gauge({
    name: 'postlog_sending_paused',
    aggregator: 'max',
    help: 'Whether the reputation guard paused the server or sending domain (1) or not (0)',
    labelNames: ['server', 'domain'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const f of figures()) this.set({ server: f.serverId, domain: f.domain ?? '' }, f.paused ? 1 : 0);
    },
  });
}

/** 1 for each (sending IP or domain, list) listed now, 0 once delisted (docs/deliverability.md). */
export function registerBlocklistGauge(metrics: Metrics, database: Database): void {
  new Gauge({
    name: 'postlog_dnsbl_listed',
    aggregator: 'max',
    help: 'Whether a sending IP or domain is on a DNS blocklist (1) or was and no longer is (0)',
    labelNames: ['target', 'zone'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const s of await blocklistStatuses(database.pool, null))
        this.set({ target: s.target, zone: s.zone }, s.listed ? 1 : 0);
    },
  });
}
