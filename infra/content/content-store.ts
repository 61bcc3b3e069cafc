import { createHash } from 'node:crypto';
import type pg from 'pg';
import { MicroBatcher } from '../batching/index.js';
import { copyRowsBinary } from '../postgres/binary-copy.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

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
      // each body its own parameter: pg sends a Buffer parameter as binary, while an array of
      // them becomes a hex text literal that PostgreSQL parses character by character (three
      // times the CPU for a 100 KB message)
      const bodies = [...unique.values()];
      // named per number of bodies: each connection parses and plans each form once
      await this.pool.query({
        name: `postlog_put_contents_${bodies.length}`,
        text: `SELECT postlog_put_contents($1::text[], ARRAY[${bodies.map((_, i) => `$${i + 2}::bytea`).join(', ')}])`,
        values: [[...unique.keys()], ...bodies],
      });
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

  /**
   * The bodies stored under these hashes (absent ones are missing from the map). Read with a
   * binary COPY: as a query result a bytea arrives as text, and PostgreSQL's base64 encoder alone
   * cost more than the rest of the read (see copyRowsBinary).
   */
  async getMany(hashes: string[]): Promise<Map<string, Buffer>> {
    // COPY takes no parameters: only well-formed hashes go into the statement (nothing else can
    // have been stored under a hash anyway)
    const wellFormed = [...new Set(hashes)].filter((h) => SHA256_HEX.test(h));
    if (wellFormed.length === 0) return new Map();
    const rows = await copyRowsBinary(
      this.pool,
      `SELECT sha256, body FROM contents WHERE sha256 IN (${wellFormed.map((h) => `'${h}'`).join(', ')})`,
    );
    return new Map(rows.map(([sha256, body]) => [sha256!.toString('latin1'), body!]));
  }

  async get(sha256: string): Promise<Buffer | undefined> {
    return (await this.getMany([sha256])).get(sha256);
  }
}
