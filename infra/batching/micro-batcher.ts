/**
 * Runs concurrent calls together: calls that arrive while a batch is running wait and go in the
 * next one. One round trip then serves many requests.
 *
 * An idle batcher starts its batch at the end of the current event-loop turn (setImmediate), not
 * at the first call: a busy server reads many requests in one turn, and each reaches its call in
 * its own callback, so starting at once sent the first alone and the rest one round trip later.
 * A lone call waits only for the callbacks already ready to run, never for a timer.
 */
export class MicroBatcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 500,
  ) {}

  call(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.next());
      }
    });
  }

  private async next(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) {
      this.running = false;
      return;
    }
    this.running = true;
    try {
      const out = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(out[i]!));
    } catch (e) {
      batch.forEach((b) => b.reject(e));
    }
    void this.next();
  }
}
