/**
 * Failed SMTP logins per client address over the last minute, for every SMTP listener of a
 * process at once (an attacker who fails on 587 is refused on 465 too).
 *
 * Bounded without forgetting the worst offenders: when it holds `capacity` addresses, the ones
 * with no failure left in the window go first, then the ones with the fewest failures. Clearing
 * the whole table (as it did at 50,000 addresses) let anyone who could fail from enough
 * addresses reset the counter of the address that mattered.
 */
export class AuthThrottle {
  /** Failure times per address, oldest first, at most `perMinute` of them (more change nothing). */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly capacity = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  blocked(client: string): boolean {
    const recent = this.recent(throttleKey(client));
    return recent !== undefined && recent.length >= this.perMinute;
  }

  record(client: string): void {
    const address = throttleKey(client);
    const recent = this.recent(address) ?? [];
    if (!this.failures.has(address) && this.failures.size >= this.capacity) this.makeRoom();
    recent.push(this.now());
    if (recent.length > this.perMinute) recent.shift();
    this.failures.set(address, recent);
  }

  /** How many addresses it remembers (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }

  /** The address's failures still in the window; forgets the address when none are. */
  private recent(address: string): number[] | undefined {
    const times = this.failures.get(address);
    if (times === undefined) return undefined;
    const since = this.now() - 60_000;
    while (times.length > 0 && times[0]! <= since) times.shift();
    if (times.length === 0) this.failures.delete(address);
    return times.length === 0 ? undefined : times;
  }

  /**
   * Frees a tenth of the table: expired addresses first, then those with the fewest failures.
   * Freeing many at a time keeps the sort this needs rare (amortised, a flood of new addresses
   * costs O(log n) each).
   */
  private makeRoom(): void {
    for (const address of [...this.failures.keys()]) this.recent(address);
    const target = Math.floor(this.capacity * 0.9);
    if (this.failures.size <= target) return;
    const byFewest = [...this.failures.entries()].sort(
      (a, b) => a[1].length - b[1].length || a[1].at(-1)! - b[1].at(-1)!,
    );
    for (const [address] of byFewest.slice(0, this.failures.size - target)) this.failures.delete(address);
  }
}

/**
 * What failures are counted by: an IPv4 address (also when written IPv4-mapped, ::ffff:a.b.c.d),
 * or an IPv6 client's /64, since one host usually holds a whole /64 and could change address at
 * every attempt.
 */
export function throttleKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const first = head ? head.split(':') : [];
  const last = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? first : [...first, ...Array(Math.max(0, 8 - first.length - last.length)).fill('0'), ...last];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
