import type { Config } from '../infra/config/index.js';
import type { Logger } from '../infra/logging/index.js';
import type { Metrics } from '../infra/metrics/index.js';
import type { SinkProjection } from './runner.js';

export interface SinkDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
}

/**
 * The projections into systems outside PostgreSQL that this configuration enables (each one only
 * when its setting is present). They run in the projector role beside the Postgres read models.
 */
export function sinkProjections(_deps: SinkDeps): SinkProjection[] {
  return [];
}
