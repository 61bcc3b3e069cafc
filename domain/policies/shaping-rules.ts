import { z } from 'zod';
import { mailboxProvider } from './mailbox-provider.js';

/**
 * Provider-aware shaping rules (config/shaping.yaml, merged with POSTLOG_SHAPING_FILE): how fast and
 * over how many connections mail goes to each mailbox provider, what a provider's "slow down"
 * answers look like, and how a new sending IP warms up. Pure: the loader (mta/shaping/) reads the
 * files; time comes in as arguments.
 */

const count = z.number().int().min(0);

/** A reply that asks us to slow down: pause the provider and lower its rate. */
export const BackOffRuleSchema = z
  .object({
    /** The RFC 3463 code of the reply, e.g. 4.7.28. */
    enhancedCode: z
      .string()
      .regex(/^[245]\.\d{1,3}\.\d{1,3}$/, 'must be an enhanced status code like 4.7.28')
      .optional(),
    /** A regular expression (case-insensitive) over "code enhanced-code text", e.g. "421 .*TSS04". */
    reply: z
      .string()
      .min(1)
      .refine((s) => {
        try {
          new RegExp(s, 'i');
          return true;
        } catch {
          return false;
        }
      }, 'must be a valid regular expression')
      .optional(),
    /** How long the provider gets no new connection. */
    pauseMinutes: z
      .number()
      .min(0)
      .max(24 * 60),
    /** The provider's connection allowance and rates are multiplied by this (restored by successes). */
    rateFactor: z.number().gt(0).max(1).default(0.5),
  })
  .strict()
  .refine((r) => r.enhancedCode !== undefined || r.reply !== undefined, 'needs enhancedCode or reply');
export type BackOffRule = z.infer<typeof BackOffRuleSchema>;

/** Limits; a field left out is inherited (provider ← default ← POSTLOG_MTA_* settings). */
const LimitsFields = {
  maxConnections: z.number().int().min(1).max(1000).optional(),
  messagesPerConnection: z.number().int().min(1).max(10_000).optional(),
  /** 0: no limit. */
  messagesPerHour: count.optional(),
  /** 0: no limit. */
  messagesPerMinute: count.optional(),
  backOff: z.array(BackOffRuleSchema).optional(),
};

export const DefaultShapingSchema = z.object(LimitsFields).strict();

export const ProviderShapingSchema = z
  .object({
    ...LimitsFields,
    /** Other provider names (the MX roll-up of mailbox-provider.ts) that mean this provider. */
    providers: z.array(z.string().min(1)).optional(),
    /** MX host name suffixes of this provider, e.g. "mail.protection.outlook.com". */
    mxSuffixes: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type ProviderShaping = z.infer<typeof ProviderShapingSchema>;

/** Day N of warm-up (from the first day) → messages per provider that day; '*' for other providers. */
export const WarmupStepSchema = z
  .object({
    day: z.number().int().min(1),
    perProvider: z.record(z.string().min(1), count),
  })
  .strict();

export const WarmupPlanSchema = z
  .object({
    /** Warm the pool's addresses (a pool not listed follows warmup.enabled). */
    enabled: z.boolean().optional(),
    /** Beyond today's allowance: try another address of the pool, or wait for tomorrow. */
    overflow: z.enum(['other-ip', 'wait']).optional(),
    /** Steps by day, ascending; after the last day the address is warm (no allowance). */
    schedule: z.array(WarmupStepSchema).min(1).optional(),
  })
  .strict();

export const IpShapingSchema = z
  .object({
    messagesPerHour: count.optional(),
    /** The warm-up's first day (YYYY-MM-DD), overriding the recorded one (an address that is warm already). */
    warmupStartedOn: z.iso.date().optional(),
    schedule: z.array(WarmupStepSchema).min(1).optional(),
  })
  .strict();

export const ShapingRulesSchema = z
  .object({
    default: DefaultShapingSchema.default({}),
    providers: z.record(z.string().min(1), ProviderShapingSchema).default({}),
    /** Per sending address (as in ipPools): rate limit and warm-up overrides. */
    ips: z.record(z.string().min(1), IpShapingSchema).default({}),
    /** Per IP pool (ipPools' names): messages per hour over all its addresses. */
    pools: z.record(z.string().min(1), z.object({ messagesPerHour: count.optional() }).strict()).default({}),
    warmup: WarmupPlanSchema.extend({
      pools: z.record(z.string().min(1), WarmupPlanSchema).default({}),
    })
      .strict()
      .default({ pools: {} }),
  })
  .strict();
export type ShapingRules = z.infer<typeof ShapingRulesSchema>;
export type WarmupStep = z.infer<typeof WarmupStepSchema>;

/**
 * The operator's rules over the shipped ones: plain objects merge key by key, everything else
 * (numbers, lists such as backOff and schedule) is replaced.
 */
export function mergeShapingDocuments(base: unknown, over: unknown): unknown {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeShapingDocuments(base[k], v);
  return out;
}

/** What a destination gets after inheritance: every limit set (0 = no limit). */
export interface EffectiveLimits {
  maxConnections: number;
  messagesPerConnection: number;
  messagesPerHour: number;
  messagesPerMinute: number;
  backOff: BackOffRule[];
}

/** The POSTLOG_MTA_* settings: what applies where the rules say nothing. */
export interface BaseLimits {
  maxConnections: number;
  messagesPerConnection: number;
  messagesPerMinute: number;
}

/**
 * The provider block an MX host belongs to: the longest matching mxSuffix, else the block named by
 * its provider roll-up (or listing it in `providers`); undefined when none does.
 */
export function providerBlockOf(rules: ShapingRules, mxHost: string): string | undefined {
  const host = mxHost.toLowerCase().replace(/\.$/, '');
  let best: { name: string; length: number } | undefined;
  for (const [name, block] of Object.entries(rules.providers))
    for (const suffix of block.mxSuffixes ?? []) {
      const s = suffix.toLowerCase().replace(/^\./, '');
      if ((host === s || host.endsWith(`.${s}`)) && s.length > (best?.length ?? -1)) best = { name, length: s.length };
    }
  if (best) return best.name;
  const provider = mailboxProvider(host);
  if (rules.providers[provider]) return provider;
  return Object.entries(rules.providers).find(([, b]) => b.providers?.includes(provider))?.[0];
}

/** The provider an MX host's mail counts under (shaping bucket, warm-up allowance): its block or its roll-up. */
export function providerOf(rules: ShapingRules, mxHost: string): string {
  return providerBlockOf(rules, mxHost) ?? mailboxProvider(mxHost);
}

/** The limits for a provider block (or none: the default), each unset field inherited. */
export function effectiveLimits(rules: ShapingRules, block: string | undefined, base: BaseLimits): EffectiveLimits {
  const p = block ? rules.providers[block] : undefined;
  const d = rules.default;
  return {
    maxConnections: p?.maxConnections ?? d.maxConnections ?? base.maxConnections,
    messagesPerConnection: p?.messagesPerConnection ?? d.messagesPerConnection ?? base.messagesPerConnection,
    messagesPerHour: p?.messagesPerHour ?? d.messagesPerHour ?? 0,
    messagesPerMinute: p?.messagesPerMinute ?? d.messagesPerMinute ?? base.messagesPerMinute,
    // a provider's own rules first, then the default ones
    backOff: [...(p?.backOff ?? []), ...(d.backOff ?? [])],
  };
}

/** The first back-off rule a reply matches. */
export function matchingBackOff(
  rules: BackOffRule[],
  reply: { code: number; enhancedCode?: string | undefined; text: string },
): BackOffRule | undefined {
  const said = `${reply.code} ${reply.enhancedCode ? `${reply.enhancedCode} ` : ''}${reply.text}`;
  return rules.find(
    (r) =>
      (r.enhancedCode === undefined || r.enhancedCode === reply.enhancedCode || said.includes(` ${r.enhancedCode}`)) &&
      (r.reply === undefined || new RegExp(r.reply, 'i').test(said)),
  );
}

/** The warm-up plan of a pool: its own settings over warmup's. */
export function warmupPlanOf(
  rules: ShapingRules,
  pool: string,
): { enabled: boolean; overflow: 'other-ip' | 'wait'; schedule: WarmupStep[] } {
  const w = rules.warmup;
  const p = w.pools[pool];
  return {
    enabled: p?.enabled ?? w.enabled ?? false,
    overflow: p?.overflow ?? w.overflow ?? 'wait',
    schedule: p?.schedule ?? w.schedule ?? [],
  };
}

/** Whole days since the warm-up started, plus one: the start day is day 1 (UTC days). */
export function warmupDay(startedOn: string, now: Date): number {
  const start = Date.parse(`${startedOn}T00:00:00Z`);
  const today = Date.parse(`${now.toISOString().slice(0, 10)}T00:00:00Z`);
  return Math.floor((today - start) / 86_400_000) + 1;
}

/**
 * Today's allowance of an address for a provider: the last step at or before `day`; undefined when
 * the schedule is over (warm: no allowance) or empty.
 */
export function warmupAllowance(schedule: WarmupStep[], day: number, provider: string): number | undefined {
  const last = schedule.reduce((m, s) => Math.max(m, s.day), 0);
  if (schedule.length === 0 || day > last) return undefined;
  const step = [...schedule].sort((a, b) => a.day - b.day).findLast((s) => s.day <= day) ?? schedule[0]!;
  return step.perProvider[provider] ?? step.perProvider['*'] ?? 0;
}
