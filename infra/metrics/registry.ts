import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerProcessGauges } from './process-gauges.js';

/** One registry per process (tests create several apps in one process, hence not the global). */
export function createMetrics(
  /** The label of this process's own memory and event-loop figures (web.1, worker; postlog when alone). */
  processName = 'postlog',
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'postlog_' });
  registerProcessGauges(registry, processName);
  return {
    registry,
    appendBatchSeconds: new Histogram({
      name: 'postlog_event_store_commit_seconds',
      help: 'Duration of one group-commit transaction of the event log',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    appendedEvents: new Counter({
      name: 'postlog_events_appended_total',
      help: 'Events appended to the log',
      registers: [registry],
    }),
    appendsPerCommit: new Histogram({
      name: 'postlog_event_store_appends_per_commit',
      help: 'How many appends shared one commit (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    esdbResubscriptions: new Counter({
      name: 'postlog_esdb_resubscriptions_total',
      help: 'EventStoreDB $all subscriptions dropped by the server and resubscribed',
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'postlog_delivery_attempts_total',
      help: 'Delivery attempts by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    projectionEvents: new Counter({
      name: 'postlog_projection_events_total',
      help: 'Events applied by projection',
      labelNames: ['projection'],
      registers: [registry],
    }),
    trackingHits: new Counter({
      name: 'postlog_tracking_hits_total',
      help: 'Opens and clicks recorded, by kind and whether a machine made them',
      labelNames: ['kind', 'machine'],
      registers: [registry],
    }),
    smtpMessages: new Counter({
      name: 'postlog_smtp_messages_total',
      help: 'Messages offered over SMTP, by listener and outcome',
      labelNames: ['listener', 'outcome'],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'postlog_webhook_deliveries_total',
      help: 'Webhook attempts by what became of the delivery: delivered, retry (failed, tried again later) or failed (given up)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookAttemptSeconds: new Histogram({
      name: 'postlog_webhook_attempt_seconds',
      help: 'Duration of one webhook request, by success or failure',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    webhookCircuitOpened: new Counter({
      name: 'postlog_webhook_circuit_opened_total',
      help: 'Times an endpoint was paused by its circuit breaker',
      registers: [registry],
    }),
    analyticsDimensionLookups: new Counter({
      name: 'postlog_analytics_dimension_lookups_total',
      help: 'Message dimensions the ClickHouse analytics sink needed: from its cache (hit) or read from the log (miss)',
      labelNames: ['result'],
      registers: [registry],
    }),
    analyticsInsertSeconds: new Histogram({
      name: 'postlog_analytics_insert_seconds',
      help: 'Duration of one batch insert into ClickHouse',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'postlog_http_requests_total',
      help: 'HTTP requests',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    scannerFailures: new Counter({
      name: 'postlog_scanner_failures_total',
      help: 'Scans that got no verdict, by scanner (rspamd, spamassassin, clamav) and reason (unreachable, timeout, protocol, error, too_large)',
      labelNames: ['scanner', 'reason'],
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
