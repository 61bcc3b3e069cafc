import { WarmupStore } from '../../infra/warmup/index.js';
import { ShapingRuntime } from '../../mta/shaping/shaping-runtime.js';
import type { StopStack } from '../stop-stack.js';
import type { Services } from '../services.js';

const runtimes = new WeakMap<Services, ShapingRuntime>();

/**
 * The process's shaping (rules, shaper, sending-address choice), built once for the roles that need
 * it (the MTA uses it, the API shows it): the first of them loads the rules and watches the files.
 */
export function shapingOf(s: Services, stack: StopStack): ShapingRuntime {
  let runtime = runtimes.get(s);
  if (!runtime) {
    const { config } = s;
    runtime = new ShapingRuntime({
      operatorFile: config.shapingFile,
      pools: config.ipPools,
      warmup: new WarmupStore(s.database.pool),
      clock: s.clock,
      hostname: config.hostname,
      logger: s.logger.child({ component: 'shaping' }),
      base: {
        maxConnections: config.mtaMaxConnectionsPerDestination,
        messagesPerConnection: config.mtaMessagesPerConnection,
        messagesPerMinute: config.mtaMessagesPerMinutePerDestination,
      },
      destinations: config.destinations,
    });
    runtimes.set(s, runtime);
    const rules = runtime.rules;
    rules.watch();
    stack.push('shaping rules watch', async () => rules.close());
  }
  return runtime;
}
