import type { Clock } from './clock.js';

interface Sleeper {
  until: number;
  wake: () => void;
}

/**
 * A clock that stands still until it is moved: for tests (and simulations) that must see the same
 * times on every run and must not wait for real time to pass. Sleepers wake when advance() or
 * set() moves the time to or past their end, earliest first.
 */
export class AdjustableClock implements Clock {
  private at: number;
  private sleepers: Sleeper[] = [];

  constructor(start: Date | string) {
    this.at = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.at);
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((wake) => this.sleepers.push({ until: this.at + ms, wake }));
  }

  /** How many sleep() calls are waiting for the time to move. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  /** Moves the time `ms` forward; resolves once the code it woke has run up to its next wait. */
  advance(ms: number): Promise<void> {
    return this.set(new Date(this.at + ms));
  }

  /** Moves the time to `to` (never back: recorded times only grow, as on a real clock). */
  async set(to: Date | string): Promise<void> {
    const target = new Date(to).getTime();
    if (target < this.at) throw new Error(`the clock does not go back (from ${this.now().toISOString()})`);
    this.at = target;
    const due = this.sleepers.filter((s) => s.until <= target).sort((a, b) => a.until - b.until);
    this.sleepers = this.sleepers.filter((s) => s.until > target);
    for (const s of due) s.wake();
    // a macrotask later: the woken continuations (and the promise chains they start) have run
    await new Promise((resolve) => setImmediate(resolve));
  }
}
