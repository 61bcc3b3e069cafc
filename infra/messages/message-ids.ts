import type pg from 'pg';

/**
 * Numeric message ids (Postal's API has integers; the stream is `message-<id>`), taken from a
 * PostgreSQL sequence in blocks so a busy process makes one round trip per block, not per message.
 * Ids are unique across processes; a block abandoned by a stopped process leaves a harmless gap.
 */
export class MessageIdAllocator {
  private available: number[] = [];
  private refill: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly blockSize = 200,
  ) {}

  async take(count: number): Promise<number[]> {
    while (this.available.length < count) {
      this.refill ??= this.fetch(Math.max(this.blockSize, count - this.available.length)).finally(
        () => (this.refill = undefined),
      );
      await this.refill;
    }
    return this.available.splice(0, count);
  }

  private async fetch(n: number): Promise<void> {
    const { rows } = await this.pool.query<{ id: number }>(
      "SELECT nextval('message_ids') AS id FROM generate_series(1, $1)",
      [n],
    );
    this.available.push(...rows.map((r) => r.id));
  }
}
