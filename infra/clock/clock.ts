/**
 * Where code that stamps or decides by the time reads it. Production runs on the system clock;
 * tests run on an AdjustableClock, so recorded times are the same on every run and a back-off
 * pause passes when the test says so, not after thirty real seconds.
 */
export interface Clock {
  now(): Date;
  /** Resolves once `ms` have passed on this clock (at once for 0 or less). */
  sleep(ms: number): Promise<void>;
}

/** The wall clock and real timers. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};
