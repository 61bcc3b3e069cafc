import { jwksRoutes } from '../../read-api/jwks-routes.js';
import { HitRecorder } from '../../write-side/tracking/hit-recorder.js';
import { trackingRoutes } from '../../write-side/tracking/tracking-routes.js';
import type { Role } from './role.js';

/** Open and click tracking and one-click unsubscribe: the public address recipients reach. */
export const trackingRole: Role = {
  name: 'tracking',
  async setUp(s, stack) {
    const { metrics, eventStore, tenancy, logger } = s;
    const recorder = new HitRecorder({
      eventStore,
      logger: logger.child({ component: 'tracking' }),
      onRecorded: (hit, machine) => metrics.trackingHits.inc({ kind: hit.kind, machine: String(machine) }),
    });
    // set up before HTTP listens, so stopped after it closes: every answered hit reaches the log
    stack.push('tracking hits', () => recorder.drain());
    const routes = [
      trackingRoutes({ tenancy, recorder, eventStore, suppressions: s.send.suppressions, logger, clock: s.clock }),
      // the webhook signing key on the public address too (the api role serves it where it runs)
      ...(s.config.roles.includes('api') ? [] : [jwksRoutes({ keys: s.signingKeys })]),
    ];
    return { routes };
  },
};
