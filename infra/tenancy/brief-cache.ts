/**
 * Answers kept for a few seconds: for look-ups made on every message or hit whose answers change
 * rarely. Bounded by emptying it when full (a simple bound: a full cache is rare and refills).
 */
export class BriefCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async get(key: string, lookUp: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await lookUp();
    if (this.entries.size > this.maxEntries) this.entries.clear();
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
    return value;
  }

  clear(): void {
    this.entries.clear();
  }
}
