import { createHash } from 'node:crypto';
import type pg from 'pg';
import { MicroBatcher } from '../batching/index.js';

export const contentHash = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/**
 * Raw MIME, content-addressed: the same bytes are stored once and events reference them by
 * SHA-256. Content is written before the events that reference it, so a failed append leaves at
 * worst an unreferenced row (removed by retention), never an event pointing at nothing.
 * Concurrent writes share one statement, committed without its own disk flush: the events'
 * synchronous commit that follows flushes it (see postlog_put_contents).
 */
export class ContentStore {
  private readonly writer: MicroBatcher<{ hash: string; body: Buffer }, void>;

  constructor(private readonly pool: pg.Pool) {
    this.writer = new MicroBatcher<{ hash: string; body: Buffer }, void>(async (items) => {
      const unique = new Map(items.map((i) => [i.hash, i.body]));
      await this.pool.query('SELECT postlog_put_contents($1::text[], $2::bytea[])', [[...unique.keys()], [...unique.values()]]);
      return items.map(() => undefined);
    }, 200);
  }

  /** Stores every body (idempotent) and returns their hashes in order. */
  async putMany(bodies: Buffer[]): Promise<string[]> {
    const hashes = bodies.map(contentHash);
    await Promise.all(bodies.map((body, i) => this.writer.call({ hash: hashes[i]!, body })));
    return hashes;
  }

  async put(body: Buffer): Promise<string> {
    return (await this.putMany([body]))[0]!;
  }

  async getMany(hashes: string[]): Promise<Map<string, Buffer>> {
    const { rows } = await this.pool.query<{ sha256: string; body: Buffer }>('SELECT sha256, body FROM contents WHERE sha256 = ANY($1::text[])', [[...new Set(hashes)]]);
    return new Map(rows.map((r) => [r.sha256, r.body]));
  }

  async get(sha256: string): Promise<Buffer | undefined> {
    const { rows } = await this.pool.query<{ body: Buffer }>('SELECT body FROM contents WHERE sha256 = $1', [sha256]);
    return rows[0]?.body;
  }
}
