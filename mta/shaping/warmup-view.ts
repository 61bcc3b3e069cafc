import { warmupAllowance, warmupDay, warmupPlanOf, type ShapingRules } from '../../domain/index.js';
import type { WarmupRecord } from '../../infra/warmup/index.js';
import type { PoolAddress } from '../settings/ip-pools.js';

/** One address's warm-up as the API and the metrics show it. */
export interface AddressWarmup {
  address: string;
  pool: string;
  enabled: boolean;
  overflow: 'other-ip' | 'wait';
  startedOn: string;
  day: number;
  /** Past the schedule's last day: no allowance any more. */
  warm: boolean;
  /** Per provider: sent today and today's allowance (null: no allowance, warm or warm-up off). */
  providers: { provider: string; sentToday: number; allowance: number | null }[];
}

/**
 * The warm-up of every address of the configured pools, from the rules and the recorded starts and
 * counts. An address the MTA has not recorded yet (it has not started since the address was added)
 * shows as starting today.
 */
export function warmupView(
  rules: ShapingRules,
  pools: Record<string, PoolAddress[]>,
  records: WarmupRecord[],
  now: Date,
): AddressWarmup[] {
  const byAddress = new Map(records.map((r) => [r.address, r]));
  const today = now.toISOString().slice(0, 10);
  return Object.entries(pools).flatMap(([pool, addresses]) =>
    addresses.map((a) => {
      const plan = warmupPlanOf(rules, pool);
      const record = byAddress.get(a.address);
      const startedOn = rules.ips[a.address]?.warmupStartedOn ?? record?.startedOn ?? today;
      const day = warmupDay(startedOn, now);
      const schedule = rules.ips[a.address]?.schedule ?? plan.schedule;
      const last = schedule.reduce((m, s) => Math.max(m, s.day), 0);
      const step = [...schedule].sort((x, y) => x.day - y.day).findLast((s) => s.day <= day);
      const named = new Set([...Object.keys(step?.perProvider ?? {}), ...Object.keys(record?.sentToday ?? {})]);
      const providers = [...named].sort().map((provider) => ({
        provider,
        sentToday: record?.sentToday[provider] ?? 0,
        allowance: plan.enabled ? (warmupAllowance(schedule, day, provider) ?? null) : null,
      }));
      return {
        address: a.address,
        pool,
        enabled: plan.enabled,
        overflow: plan.overflow,
        startedOn,
        day,
        warm: day > last,
        providers,
      };
    }),
  );
}
