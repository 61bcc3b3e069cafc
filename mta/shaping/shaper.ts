import { classifyBounce, matchingBackOff, type BackOffRule } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import { SlidingWindow } from './sliding-window.js';

/**
 * Traffic shaping for one bucket: an MX host (every domain it serves shares it), or a provider of the
 * shaping rules (every MX host of the provider shares it: shaping-rules.ts).
 */
export interface DestinationLimits {
  /** Connections at once. */
  maxConnections: number;
  /** Messages per minute; 0 = unlimited. */
  messagesPerMinute: number;
  /** Messages per hour; 0 or unset = unlimited. */
  messagesPerHour?: number;
  /** Replies that pause the bucket for a while and lower its rate (the shaping rules' backOff). */
  backOff?: BackOffRule[];
}

export interface ShaperOptions {
  /** The bucket an MX host belongs to (default: the host itself). */
  bucketOf?: (destination: string) => string;
  /** Changes when the rules are reloaded: buckets then read their limits again (for new connections). */
  generation?: () => number;
}

interface Bucket {
  limits: DestinationLimits;
  generation: number;
  /** The current connection limit: lowered by back-off, raised again by successes. */
  allowed: number;
  /** The rates are multiplied by this: lowered by back-off, raised again by successes. */
  rateScale: number;
  active: number;
  pausedUntil: number;
  minute: SlidingWindow;
  hour: SlidingWindow;
  successes: number;
  waiters: (() => void)[];
  /** Why it was paused last (the reply), for the shaping view. */
  lastBackOff?: { at: number; reply: string };
  /** When it was last asked for: a bucket idle long enough is forgotten. */
  lastUsed: number;
}

/** What the shaping view shows of a bucket. */
export interface BucketState {
  bucket: string;
  maxConnections: number;
  allowed: number;
  active: number;
  pausedUntil: number;
  rateScale: number;
  messagesPerMinute: number;
  messagesPerHour: number;
  sentLastMinute: number;
  sentLastHour: number;
  lastBackOff?: { at: number; reply: string };
}

/**
 * A destination left alone this long (no connection, nobody waiting, no pause) is forgotten: an MTA
 * sends to ever more MX hosts over its life, and a bucket each forever would grow without bound. Its
 * back-off is forgotten with it, long after the pause it asked for.
 */
const IDLE_MS = 10 * 60_000;
/** How often the idle buckets are looked for (each look goes over all of them). */
const SWEEP_MS = 60_000;

/**
 * Per-destination concurrency and rate limits, with automatic back-off: a 421 or a "too many
 * connections / rate limited" answer halves the destination's connection allowance and pauses
 * it; successes restore it one connection at a time.
 */
export class Shaper {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly limitsFor: (bucket: string) => DestinationLimits,
    private readonly clock: Clock,
    private readonly options: ShaperOptions = {},
  ) {}

  private bucket(destination: string): Bucket {
    const now = this.clock.now().getTime();
    if (now - this.lastSweep >= SWEEP_MS) this.forgetIdle(now);
    const key = this.options.bucketOf?.(destination) ?? destination;
    const generation = this.options.generation?.() ?? 0;
    let b = this.buckets.get(key);
    if (!b) {
      const limits = this.limitsFor(key);
      b = {
        limits,
        generation,
        allowed: limits.maxConnections,
        rateScale: 1,
        active: 0,
        pausedUntil: 0,
        minute: new SlidingWindow(60_000),
        hour: new SlidingWindow(3_600_000),
        successes: 0,
        waiters: [],
        lastUsed: now,
      };
      this.buckets.set(key, b);
    } else if (b.generation !== generation) {
      // reloaded rules: new limits for what comes next; a back-off in progress keeps its share
      const backedOff = b.allowed < b.limits.maxConnections;
      b.limits = this.limitsFor(key);
      b.generation = generation;
      b.allowed = backedOff ? Math.min(b.allowed, b.limits.maxConnections) : b.limits.maxConnections;
      for (let i = b.active; i < b.allowed; i++) b.waiters.shift()?.();
    }
    b.lastUsed = now;
    return b;
  }

  private forgetIdle(now: number): void {
    this.lastSweep = now;
    for (const [destination, b] of this.buckets)
      if (
        b.active === 0 &&
        b.waiters.length === 0 &&
        b.pausedUntil <= now &&
        now - b.lastUsed >= IDLE_MS &&
        // its hour of sends still counts against its hourly limit
        b.hour.count(now) === 0
      )
        this.buckets.delete(destination);
  }

  /** How many destinations it keeps state for. */
  get destinations(): number {
    return this.buckets.size;
  }

  /** Waits for a connection slot; returns a release function. */
  async acquireConnection(destination: string): Promise<() => void> {
    const b = this.bucket(destination);
    for (;;) {
      const now = this.clock.now().getTime();
      if (b.pausedUntil > now) {
        await this.clock.sleep(b.pausedUntil - now);
        continue;
      }
      if (b.active < b.allowed) break;
      await new Promise<void>((r) => b.waiters.push(r));
    }
    b.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      b.active--;
      b.waiters.shift()?.();
    };
  }

  /** Waits until the destination's message rates (per minute, per hour) allow one more message. */
  async beforeMessage(destination: string): Promise<void> {
    for (;;) {
      // read again after each wait: a reload may have changed the limits
      const b = this.bucket(destination);
      const now = this.clock.now().getTime();
      const waitMs = Math.max(
        b.minute.waitMs(now, scaled(b.limits.messagesPerMinute, b.rateScale)),
        b.hour.waitMs(now, scaled(b.limits.messagesPerHour ?? 0, b.rateScale)),
      );
      if (waitMs <= 0) {
        b.minute.add(now);
        b.hour.add(now);
        return;
      }
      // in slices: a reload that raises the rate lets a waiting message go within a second
      await this.clock.sleep(Math.min(waitMs + 5, 1000));
    }
  }

  /** The destination told us to slow down: fewer connections and a lower rate, and none for a while. */
  backOff(destination: string, pauseMs = 30_000, rateFactor = 0.5, reply?: string): void {
    const b = this.bucket(destination);
    const now = this.clock.now().getTime();
    b.allowed = Math.max(1, Math.floor(b.allowed * rateFactor));
    b.rateScale = Math.max(1 / 64, b.rateScale * rateFactor);
    b.pausedUntil = Math.max(b.pausedUntil, now + pauseMs);
    b.successes = 0;
    if (reply) b.lastBackOff = { at: now, reply: reply.slice(0, 300) };
  }

  /**
   * A 4xx reply (or a refused greeting): backs off when it asks us to slow down, by the bucket's
   * first matching back-off rule, else by the plain throttle signs (30 s). True when it backed off.
   */
  answered(destination: string, reply: { code: number; enhancedCode?: string | undefined; text: string }): boolean {
    if (reply.code < 400 || reply.code >= 500) return false;
    const rule = matchingBackOff(this.bucket(destination).limits.backOff ?? [], reply);
    const said = `${reply.code} ${reply.enhancedCode ? `${reply.enhancedCode} ` : ''}${reply.text}`;
    if (rule) {
      this.backOff(destination, rule.pauseMinutes * 60_000, rule.rateFactor, said);
      return true;
    }
    if (!asksToSlowDown(reply.code, reply.text, reply.enhancedCode)) return false;
    this.backOff(destination, 30_000, 0.5, said);
    return true;
  }

  succeeded(destination: string): void {
    const b = this.bucket(destination);
    if (b.allowed >= b.limits.maxConnections && b.rateScale >= 1) return;
    if (++b.successes >= 20) {
      if (b.allowed < b.limits.maxConnections) {
        b.allowed++;
        b.waiters.shift()?.();
      }
      b.rateScale = Math.min(1, b.rateScale * 2);
      b.successes = 0;
    }
  }

  state(destination: string): { allowed: number; active: number; pausedUntil: number } {
    const b = this.bucket(destination);
    return { allowed: b.allowed, active: b.active, pausedUntil: b.pausedUntil };
  }

  /** Every bucket this process has used, as the shaping view shows it. */
  snapshot(): BucketState[] {
    const now = this.clock.now().getTime();
    return [...this.buckets].map(([bucket, b]) => ({
      bucket,
      maxConnections: b.limits.maxConnections,
      allowed: b.allowed,
      active: b.active,
      pausedUntil: b.pausedUntil,
      rateScale: b.rateScale,
      messagesPerMinute: scaled(b.limits.messagesPerMinute, b.rateScale),
      messagesPerHour: scaled(b.limits.messagesPerHour ?? 0, b.rateScale),
      sentLastMinute: b.minute.count(now),
      sentLastHour: b.hour.count(now),
      ...(b.lastBackOff ? { lastBackOff: b.lastBackOff } : {}),
    }));
  }
}

/** A rate lowered by back-off (0 stays "no limit"; a limit never drops below one). */
function scaled(rate: number, scale: number): number {
  return rate <= 0 ? 0 : Math.max(1, Math.floor(rate * scale));
}

/**
 * Replies that ask us to slow down: the throttle signs below, or a 4xx the bounce rules class as
 * `rate-limit` (e.g. Microsoft's 4.7.500-699) except greylisting, which asks only for a later try.
 */
export function asksToSlowDown(code: number, text: string, enhancedCode?: string): boolean {
  if (isThrottleReply(code, text)) return true;
  if (code < 400 || code >= 500 || /gr[ae]ylist/i.test(text)) return false;
  return classifyBounce(text, enhancedCode).category === 'rate-limit';
}

/** Replies that mean "you are too fast", not "this message is unwanted". */
export function isThrottleReply(code: number, text: string): boolean {
  // (a plain "try again later" is ordinary greylisting or a busy mailbox, not a request to slow down)
  return (
    code === 421 ||
    (code >= 400 &&
      code < 500 &&
      /too many (connections|messages|recipients)|rate ?limit|throttl|slow down|sending rate/i.test(text))
  );
}
