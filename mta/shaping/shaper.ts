import type { Clock } from '../../infra/clock/index.js';

/** Traffic shaping for one destination (an MX host: every domain it serves shares the bucket). */
export interface DestinationLimits {
  /** Connections at once. */
  maxConnections: number;
  /** Messages per minute; 0 = unlimited. */
  messagesPerMinute: number;
}

interface Bucket {
  limits: DestinationLimits;
  /** The current connection limit: lowered by back-off, raised again by successes. */
  allowed: number;
  active: number;
  pausedUntil: number;
  sentTimes: number[];
  successes: number;
  waiters: (() => void)[];
  /** When it was last asked for: a bucket idle long enough is forgotten. */
  lastUsed: number;
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
    private readonly limitsFor: (destination: string) => DestinationLimits,
    private readonly clock: Clock,
  ) {}

  private bucket(destination: string): Bucket {
    const now = this.clock.now().getTime();
    if (now - this.lastSweep >= SWEEP_MS) this.forgetIdle(now);
    let b = this.buckets.get(destination);
    if (!b) {
      const limits = this.limitsFor(destination);
      b = {
        limits,
        allowed: limits.maxConnections,
        active: 0,
        pausedUntil: 0,
        sentTimes: [],
        successes: 0,
        waiters: [],
        lastUsed: now,
      };
      this.buckets.set(destination, b);
    }
    b.lastUsed = now;
    return b;
  }

  private forgetIdle(now: number): void {
    this.lastSweep = now;
    for (const [destination, b] of this.buckets)
      if (b.active === 0 && b.waiters.length === 0 && b.pausedUntil <= now && now - b.lastUsed >= IDLE_MS)
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

  /** Waits until the destination's message rate allows one more message. */
  async beforeMessage(destination: string): Promise<void> {
    const b = this.bucket(destination);
    if (b.limits.messagesPerMinute <= 0) return;
    for (;;) {
      const now = this.clock.now().getTime();
      b.sentTimes = b.sentTimes.filter((t) => t > now - 60_000);
      if (b.sentTimes.length < b.limits.messagesPerMinute) {
        b.sentTimes.push(now);
        return;
      }
      await this.clock.sleep(b.sentTimes[0]! + 60_000 - now + 5);
    }
  }

  /** The destination told us to slow down. */
  backOff(destination: string, pauseMs = 30_000): void {
    const b = this.bucket(destination);
    b.allowed = Math.max(1, Math.floor(b.allowed / 2));
    b.pausedUntil = Math.max(b.pausedUntil, this.clock.now().getTime() + pauseMs);
    b.successes = 0;
  }

  succeeded(destination: string): void {
    const b = this.bucket(destination);
    if (b.allowed >= b.limits.maxConnections) return;
    if (++b.successes >= 20) {
      b.allowed++;
      b.successes = 0;
      b.waiters.shift()?.();
    }
  }

  state(destination: string): { allowed: number; active: number; pausedUntil: number } {
    const b = this.bucket(destination);
    return { allowed: b.allowed, active: b.active, pausedUntil: b.pausedUntil };
  }
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
