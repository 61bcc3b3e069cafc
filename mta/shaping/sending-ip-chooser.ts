import { providerOf, warmupAllowance, warmupDay, warmupPlanOf, type ShapingRules } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { WarmupStore } from '../../infra/warmup/index.js';
import type { Binding, HoldBack } from '../mta-worker.js';
import { bindingFor, chooseAddress, type PoolAddress } from '../settings/ip-pools.js';
import { SlidingWindow } from './sliding-window.js';

export interface SendingIpChooserDeps {
  pools: Record<string, PoolAddress[]>;
  rules: () => ShapingRules;
  warmup: Pick<WarmupStore, 'reserve' | 'starts' | 'recordAddresses'>;
  clock: Clock;
  hostname: string;
  logger: Logger;
  random?: () => number;
}

const utcDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The sending address of each message of a pooled server, within the shaping rules: the pool's and
 * the address's messages per hour, and a warming address's allowance for the provider today. An
 * address over its limits is skipped for another of the pool (warm-up `overflow: other-ip`) or the
 * message waits (`overflow: wait`, or no address left): a HoldBack, which is not an attempt.
 */
export class SendingIpChooser {
  private readonly perAddress = new Map<string, SlidingWindow>();
  private readonly perPool = new Map<string, SlidingWindow>();
  private started = new Map<string, string>();

  constructor(private readonly d: SendingIpChooserDeps) {}

  /** Records every pool address not seen before as warming from today (a new address starts by itself). */
  async start(): Promise<void> {
    const addresses = Object.entries(this.d.pools).flatMap(([pool, list]) =>
      list.map((a) => ({ address: a.address, pool })),
    );
    await this.d.warmup.recordAddresses(addresses, utcDay(this.d.clock.now()));
    this.started = await this.d.warmup.starts();
  }

  /** The day an address's warm-up started: the rules' override, else the recorded one (else today). */
  startedOn(address: string): string {
    return this.d.rules().ips[address]?.warmupStartedOn ?? this.started.get(address) ?? utcDay(this.d.clock.now());
  }

  async choose(server: { id: string; ipPool: string | null }, mxHost: string): Promise<Binding | undefined | HoldBack> {
    const poolName = server.ipPool;
    const pool = poolName === null ? undefined : this.d.pools[poolName];
    if (poolName === null || !pool || pool.length === 0)
      return bindingFor(server, this.d.pools, this.d.hostname, this.d.logger);
    const rules = this.d.rules();
    const now = this.d.clock.now();
    const ms = now.getTime();
    const poolWindow = window(this.perPool, poolName);
    const poolLimit = rules.pools[poolName]?.messagesPerHour ?? 0;
    const poolWait = poolWindow.waitMs(ms, poolLimit);
    if (poolWait > 0)
      return {
        holdBack: `the pool ${poolName} has sent its ${poolLimit} messages this hour`,
        retryInSeconds: secs(poolWait),
      };
    const plan = warmupPlanOf(rules, poolName);
    const provider = providerOf(rules, mxHost);
    const random = this.d.random ?? Math.random;
    const first = chooseAddress(pool, random())!;
    const candidates =
      plan.overflow === 'other-ip'
        ? [
            first,
            ...shuffled(
              pool.filter((a) => a !== first),
              random,
            ),
          ]
        : [first];
    const reasons: string[] = [];
    let retryMs = Number.POSITIVE_INFINITY;
    for (const a of candidates) {
      const limit = rules.ips[a.address]?.messagesPerHour ?? 0;
      const wait = window(this.perAddress, a.address).waitMs(ms, limit);
      if (wait > 0) {
        reasons.push(`${a.address} has sent its ${limit} messages this hour`);
        retryMs = Math.min(retryMs, wait);
        continue;
      }
      if (plan.enabled) {
        const day = warmupDay(this.startedOn(a.address), now);
        const schedule = rules.ips[a.address]?.schedule ?? plan.schedule;
        const allowance = warmupAllowance(schedule, day, provider);
        if (allowance !== undefined && !(await this.d.warmup.reserve(a.address, provider, utcDay(now), allowance))) {
          reasons.push(`warm-up: ${a.address} has sent today's ${allowance} messages to ${provider} (day ${day})`);
          // looked at again now and then: a reload that raises the allowance applies the same day
          retryMs = Math.min(retryMs, untilTomorrow(now), 15 * 60_000);
          continue;
        }
      }
      poolWindow.add(ms);
      window(this.perAddress, a.address).add(ms);
      return { address: a.address, ehlo: a.ehlo ?? this.d.hostname };
    }
    return { holdBack: reasons.join('; '), retryInSeconds: secs(retryMs) };
  }
}

function window(map: Map<string, SlidingWindow>, key: string): SlidingWindow {
  let w = map.get(key);
  if (!w) map.set(key, (w = new SlidingWindow(3_600_000)));
  return w;
}

const secs = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Until a little after the next UTC midnight (when today's allowances start again). */
function untilTomorrow(now: Date): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return midnight - now.getTime() + 60_000;
}

function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
