import type { Logger } from '../infra/logging/index.js';

/**
 * What start-up built, stopped in the reverse order: what started last stops first. Start-up
 * pushes each piece as it comes up; a start-up step that fails unwinds what came before it, and
 * stopping unwinds the whole stack. One place for clean-up, instead of a copy per failure point.
 */
export class StopStack {
  private readonly stops: { name: string; stop: () => Promise<void> | void }[] = [];

  constructor(private readonly logger: Logger) {}

  push(name: string, stop: () => Promise<void> | void): void {
    this.stops.push({ name, stop });
  }

  /** Stops everything, last first. A step that fails is logged and the others still run. */
  async unwind(): Promise<void> {
    for (let s = this.stops.pop(); s !== undefined; s = this.stops.pop()) {
      try {
        await s.stop();
      } catch (err) {
        this.logger.error({ step: s.name, error: (err as Error).message }, 'a shutdown step failed');
      }
    }
  }
}
