/** Times of events within the last `spanMs`, oldest first: how many fit, and how long until one more does. */
export class SlidingWindow {
  private times: number[] = [];
  private head = 0;

  constructor(private readonly spanMs: number) {}

  private expire(now: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= now - this.spanMs) this.head++;
    // compact now and then: the array does not grow with every event ever seen
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  count(now: number): number {
    this.expire(now);
    return this.times.length - this.head;
  }

  /** 0 when one more fits under `limit` (0 = no limit), else the milliseconds until it does. */
  waitMs(now: number, limit: number): number {
    if (limit <= 0) return 0;
    const n = this.count(now);
    if (n < limit) return 0;
    return this.times[this.head + (n - limit)]! + this.spanMs - now;
  }

  add(now: number): void {
    this.times.push(now);
  }
}
