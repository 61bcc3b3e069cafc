import { Gauge } from 'prom-client';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Metrics } from '../../infra/metrics/index.js';
import type { Database } from '../../infra/postgres/index.js';
import { depthByDestination } from '../../infra/delivery-queue/index.js';
import { blocklistStatuses } from '../../infra/blocklists/index.js';
import { projectionStatus } from '../../projections/maintenance.js';
import type { Projection } from '../../projections/runner.js';

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
