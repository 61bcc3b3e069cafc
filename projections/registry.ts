import { analyticsProjection } from './analytics/postgres-analytics-projection.js';
import { deliveryQueueProjection } from './delivery-queue/delivery-queue-projection.js';
import { messageReadModels } from './read-models/message-read-models.js';
import type { PostgresProjection } from './runner.js';

/** Every Postgres projection, by name: the projector runs them, the CLI rebuilds and verifies them. */
export const projections: PostgresProjection[] = [deliveryQueueProjection, messageReadModels, analyticsProjection];

export function projectionNamed(name: string): PostgresProjection | undefined {
  return projections.find((p) => p.name === name);
}
