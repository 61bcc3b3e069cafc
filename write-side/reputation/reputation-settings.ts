import type { Config } from '../../infra/config/index.js';
import type { ReputationSettings } from './reputation-checks.js';

/** The guard's settings from the configuration (thresholds there are percentages, here fractions). */
export function reputationSettings(config: Config): ReputationSettings {
  return {
    windowHours: config.reputationWindowHours,
    minVolume: config.reputationMinVolume,
    thresholds: {
      complaint: {
        warn: config.reputationComplaintWarnPercent / 100,
        pause: config.reputationComplaintPausePercent / 100,
      },
      hard_bounce: { warn: config.reputationBounceWarnPercent / 100, pause: config.reputationBouncePausePercent / 100 },
    },
  };
}
