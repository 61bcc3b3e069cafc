import type { Config } from '../infra/config/index.js';
import type { EventStore } from '../infra/event-store/index.js';
import { analyticsProjection } from './analytics/postgres-analytics-projection.js';
import { blocklistProjection } from './blocklists/blocklist-projection.js';
import { deliveryQueueProjection } from './delivery-queue/delivery-queue-projection.js';
import { dmarcReportProjection } from './dmarc-reports/dmarc-report-projection.js';
import { endpointQueueProjection } from './inbound/endpoint-queue-projection.js';
import { messageReadModels } from './read-models/message-read-models.js';
import { reputationProjection } from './reputation/reputation-projection.js';
import type { PostgresProjection } from './runner.js';
import { tlsReportProjection } from './tls-reports/tls-report-projection.js';
import { webhookOutboxProjection } from './webhooks/webhook-outbox-projection.js';

/** Every Postgres projection, by name: the projector runs them, the CLI rebuilds and verifies them. */
export const projections: PostgresProjection[] = [
  deliveryQueueProjection,
  messageReadModels,
  analyticsProjection,
  endpointQueueProjection,
  tlsReportProjection,
  reputationProjection,
  dmarcReportProjection,
  blocklistProjection,
];

export function projectionNamed(name: string): PostgresProjection | undefined {
  return projections.find((p) => p.name === name);
}

/**
 * Postgres projections that are outboxes of side effects (webhooks): the projector runs them like
 * the read models, but they are never rebuilt or verified — a rebuild would send everything again.
 */
export function outboxProjections(
  config: Pick<Config, 'webhookMaxAgeHours'>,
  eventStore?: Pick<EventStore, 'readStream'>,
): PostgresProjection[] {
  const readStream = eventStore && ((id: string) => eventStore.readStream(id));
  return [webhookOutboxProjection({ maxAgeHours: config.webhookMaxAgeHours, readStream })];
}
