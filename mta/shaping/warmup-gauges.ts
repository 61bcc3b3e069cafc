import { Gauge } from 'prom-client';
import type { ShapingRules } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { Metrics } from '../../infra/metrics/index.js';
import type { WarmupStore } from '../../infra/warmup/index.js';
import type { PoolAddress } from '../settings/ip-pools.js';
import { warmupView } from './warmup-view.js';

/**
 * postlog_warmup_sent_today and postlog_warmup_allowance per address and provider, computed when
 * Prometheus scrapes (from the database: every MTA process reports the same figure, shown once).
 */
export function registerWarmupGauges(
  metrics: Pick<Metrics, 'registry'>,
  deps: {
    rules: () => ShapingRules;
    pools: Record<string, PoolAddress[]>;
    warmup: Pick<WarmupStore, 'records'>;
    clock: Clock;
  },
): void {
  const view = async () => {
    const now = deps.clock.now();
    return warmupView(deps.rules(), deps.pools, await deps.warmup.records(now.toISOString().slice(0, 10)), now);
  };
  new Gauge({
    name: 'postlog_warmup_sent_today',
    aggregator: 'max',
    help: 'Messages a warming sending address has taken today (UTC) for a provider',
    labelNames: ['ip', 'provider'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const a of await view())
        for (const p of a.providers) this.set({ ip: a.address, provider: p.provider }, p.sentToday);
    },
  });
  new Gauge({
    name: 'postlog_warmup_allowance',
    aggregator: 'max',
    help: "A warming sending address's allowance for a provider today (UTC); absent when warm or warm-up is off",
    labelNames: ['ip', 'provider'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const a of await view())
        for (const p of a.providers)
          if (p.allowance !== null) this.set({ ip: a.address, provider: p.provider }, p.allowance);
    },
  });
}
