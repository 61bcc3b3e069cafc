import { createHash } from 'node:crypto';
import type pg from 'pg';

export const contentHash = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/**
 * Raw MIME, content-addressed: the same bytes are stored once and events reference them by
 * SHA-256. Content is written before the events that reference it, so a failed append leaves at
 * worst an unreferenced row (removed by retention), never an event pointing at nothing.
 */
export class ContentStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Stores every body (idempotent) and returns their hashes in order. */
  async putMany(bodies: Buffer[]): Promise<string[]> {
    const hashes = bodies.map(contentHash);
    const unique = new Map<string, Buffer>();
    hashes.forEach((h, i) => unique.set(h, bodies[i]!));
    const keys = [...unique.keys()];
    const values = [...unique.values()];
    await this.pool.query(
      `INSERT INTO contents (sha256, body, size)
       SELECT * FROM unnest($1::text[], $2::bytea[], $3::int[]) ON CONFLICT (sha256) DO NOTHING`,
      [keys, values, values.map((b) => b.length)],
    );
    return hashes;
  }

  async put(body: Buffer): Promise<string> {
    return (await this.putMany([body]))[0]!;
  }

  async get(sha256: string): Promise<Buffer | undefined> {
    const { rows } = await this.pool.query<{ body: Buffer }>('SELECT body FROM contents WHERE sha256 = $1', [sha256]);
    return rows[0]?.body;
  }
}
