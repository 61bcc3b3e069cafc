import { effectiveLimits, providerBlockOf, type BaseLimits } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { WarmupStore } from '../../infra/warmup/index.js';
import type { PoolAddress } from '../settings/ip-pools.js';
import { SendingIpChooser } from './sending-ip-chooser.js';
import { Shaper, type DestinationLimits } from './shaper.js';
import { ShapingRulesStore } from './shaping-rules-store.js';

/** A provider's bucket is named so that it cannot be taken for an MX host's. */
const PROVIDER_BUCKET = 'provider:';

export interface ShapingRuntimeDeps {
  operatorFile: string | undefined;
  pools: Record<string, PoolAddress[]>;
  warmup: WarmupStore;
  clock: Clock;
  hostname: string;
  logger: Logger;
  /** The POSTLOG_MTA_* limits (where the rules say nothing) and the per-MX-host `destinations` overrides. */
  base: BaseLimits;
  destinations: Record<string, { maxConnections?: number | undefined; messagesPerMinute?: number | undefined }>;
  /** Stands in for the shipped config/shaping.yaml (tests). */
  shippedFile?: string;
}

/**
 * The shaping of one process: the rules (reloadable), the shaper the MTA asks before each
 * connection and message (buckets per provider of the rules, else per MX host), and the choice of
 * sending address (per-IP and per-pool rates, warm-up). The API's shaping view reads it too.
 */
export class ShapingRuntime {
  readonly rules: ShapingRulesStore;
  readonly shaper: Shaper;
  readonly chooser: SendingIpChooser;
  /** True once an MTA uses the shaper in this process (else the view has no live state to show). */
  delivering = false;

  constructor(readonly d: ShapingRuntimeDeps) {
    this.rules = new ShapingRulesStore(d.operatorFile, d.logger, d.shippedFile);
    this.shaper = new Shaper((bucket) => this.limitsOf(bucket), d.clock, {
      bucketOf: (host) => this.bucketOf(host),
      generation: () => this.rules.generation,
    });
    this.chooser = new SendingIpChooser({
      pools: d.pools,
      rules: () => this.rules.rules,
      warmup: d.warmup,
      clock: d.clock,
      hostname: d.hostname,
      logger: d.logger,
    });
  }

  private readonly buckets = { generation: -1, of: new Map<string, string>() };

  /** The bucket of an MX host (remembered until the rules change: asked before every connection and message). */
  private bucketOf(host: string): string {
    if (this.buckets.generation !== this.rules.generation)
      Object.assign(this.buckets, { generation: this.rules.generation, of: new Map() });
    let bucket = this.buckets.of.get(host);
    if (bucket === undefined) {
      const block = providerBlockOf(this.rules.rules, host);
      bucket = block ? `${PROVIDER_BUCKET}${block}` : host.toLowerCase();
      this.buckets.of.set(host, bucket);
    }
    return bucket;
  }

  /** A provider's limits by its rule; an MX host's by the default rule, with its `destinations` override. */
  limitsOf(bucket: string): DestinationLimits {
    const block = bucket.startsWith(PROVIDER_BUCKET) ? bucket.slice(PROVIDER_BUCKET.length) : undefined;
    const limits = effectiveLimits(this.rules.rules, block, this.d.base);
    const override = block ? undefined : this.d.destinations[bucket];
    return {
      ...limits,
      maxConnections: override?.maxConnections ?? limits.maxConnections,
      messagesPerMinute: override?.messagesPerMinute ?? limits.messagesPerMinute,
    };
  }

  /** Messages per connection to an MX host: its provider's rule (read when the connection opens). */
  messagesPerConnection(mxHost: string): number {
    return effectiveLimits(this.rules.rules, providerBlockOf(this.rules.rules, mxHost), this.d.base)
      .messagesPerConnection;
  }
}
