import { createLogger } from '../infra/logging/index.js';
import { rebuildProjections, verifyProjection } from '../projections/maintenance.js';
import { projections } from '../projections/registry.js';
import { withFilledLog } from './fill-log.js';

const logger = createLogger({ level: 'warn', format: 'json' });

export async function run() {
  const target = Number(process.env.BENCH_EVENTS ?? 1_000_000);
  return withFilledLog(target, logger, async ({ pool, store, events, messages: id }) => {
    const results: { projection: string; events: number; seconds: number; eventsPerSecond: number }[] = [];
    let total = 0;
    const r0 = performance.now();
    // one pass over the log rebuilds every read model (`postlog projections rebuild`)
    const rebuilt = await rebuildProjections(
      pool,
      store,
      projections,
      (n) => n % 100_000 < 5000 && process.stderr.write(`rebuilding: ${n} events read\n`),
    );
    process.stderr.write('\n');
    for (const [name, r] of rebuilt) {
      results.push({
        projection: name,
        events: r.events,
        seconds: +r.seconds.toFixed(2),
        eventsPerSecond: Math.round(r.events / r.seconds),
      });
      total += r.events;
    }
    const rebuildSeconds = (performance.now() - r0) / 1000;
    const v0 = performance.now();
    const verified = await verifyProjection(pool, store, projections.find((p) => p.name === 'message-read-models')!);
    const verifySeconds = (performance.now() - v0) / 1000;
    process.stderr.write(
      `verified message-read-models: ${verified.ok ? 'identical' : 'DIFFERENT'} in ${verifySeconds.toFixed(1)} s\n`,
    );
    // the log's events, each rebuilt into every read model, per second of wall time
    const perSecond = Math.round(events / rebuildSeconds);
    return {
      bench: 'replay',
      logEvents: events,
      messages: id,
      rebuild: results,
      allReadModels: {
        logEvents: events,
        projectedEvents: total,
        seconds: +rebuildSeconds.toFixed(2),
        eventsPerSecond: perSecond,
      },
      verify: { projection: 'message-read-models', ok: verified.ok, seconds: +verifySeconds.toFixed(2) },
      targets: { eventsPerSecond: 20_000, maxSecondsFor1M: 50 },
      met: { rate: perSecond >= 20_000 },
    };
  });
}
