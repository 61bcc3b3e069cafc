import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { z } from 'zod';

/**
 * The file `postlog backup` writes, gzip-compressed: the line below, then frames of one type byte, a 32-bit
 * length and a payload. H: the header (JSON, BackupHeader); then for each table T (JSON {name}), D frames of
 * PostgreSQL's binary COPY data, E (JSON {rows}); S: the sequences (JSON); Z: the end (JSON, BackupEnd). A file
 * without its Z frame is truncated, and a restore of it commits nothing.
 */
export const BACKUP_MAGIC = Buffer.from('POSTLOG-BACKUP 1\n', 'latin1');

export const BackupHeader = z.object({
  format: z.literal('postlog-backup'),
  formatVersion: z.literal(1),
  postlogVersion: z.string(),
  /** The newest migration applied (postlog_migrations), and every one applied. */
  schemaVersion: z.number().int().nonnegative(),
  migrations: z.array(z.number().int().nonnegative()),
  createdAt: z.string(),
  database: z.enum(['embedded', 'external']),
  serverVersion: z.string(),
  /** Never in the file (docs/operations.md, Backups): the id of the key that opens its sealed secrets, if known. */
  secretsKey: z.object({ included: z.literal(false), keyId: z.string().nullable() }),
  /** In the order they are restored (a table after the tables its foreign keys name). */
  tables: z.array(z.object({ name: z.string(), columns: z.array(z.string()) })),
});
export type BackupHeader = z.infer<typeof BackupHeader>;

export const BackupSequence = z.object({
  name: z.string(),
  /** The column it numbers (serial or identity), found again by column on restore: its name may differ. */
  table: z.string().nullable(),
  column: z.string().nullable(),
  lastValue: z.string(),
  isCalled: z.boolean(),
});
export type BackupSequence = z.infer<typeof BackupSequence>;

export const BackupEnd = z.object({ tables: z.number().int(), rows: z.number().int() });
export type BackupEnd = z.infer<typeof BackupEnd>;

export type FrameType = 'H' | 'T' | 'D' | 'E' | 'S' | 'Z';
export interface Frame {
  type: FrameType;
  payload: Buffer;
}

const FRAME_TYPES = new Set<string>(['H', 'T', 'D', 'E', 'S', 'Z']);

/** A file that is not a Postlog backup, or one that is damaged or cut short. */
export class BackupUnreadable extends Error {
  readonly code = 'BACKUP_UNREADABLE';
}

/** Writes frames to a stream, waiting whenever it asks to (a backup can be larger than memory). */
export class FrameWriter {
  constructor(private readonly out: Writable) {}

  async magic(): Promise<void> {
    await this.put(BACKUP_MAGIC);
  }

  async write(type: FrameType, payload: Buffer): Promise<void> {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(payload.length, 1);
    await this.put(head);
    await this.put(payload);
  }

  json(type: FrameType, value: unknown): Promise<void> {
    return this.write(type, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  private async put(bytes: Buffer): Promise<void> {
    if (!this.out.write(bytes)) await once(this.out, 'drain');
  }
}

/** The frames of a backup's (decompressed) bytes, checking the magic line first. */
export async function* readFrames(source: AsyncIterable<Buffer>): AsyncGenerator<Frame> {
  const pending = new ChunkQueue();
  let magicChecked = false;
  for await (const chunk of source) {
    pending.push(chunk);
    if (!magicChecked) {
      if (pending.length < BACKUP_MAGIC.length) continue;
      if (!pending.take(BACKUP_MAGIC.length).equals(BACKUP_MAGIC))
        throw new BackupUnreadable('not a Postlog backup (it does not start with POSTLOG-BACKUP 1)');
      magicChecked = true;
    }
    for (;;) {
      if (pending.length < 5) break;
      const head = pending.peek(5);
      const length = head.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      pending.take(5);
      const type = head.toString('latin1', 0, 1);
      if (!FRAME_TYPES.has(type)) throw new BackupUnreadable(`damaged backup: a frame of unknown type ${head[0]}`);
      yield { type: type as FrameType, payload: pending.take(length) };
    }
  }
  if (!magicChecked) throw new BackupUnreadable('not a Postlog backup (too short)');
  if (pending.length > 0) throw new BackupUnreadable('the backup is truncated: it ends inside a frame');
}

/** Parses a JSON frame with its schema; a frame that does not fit is damage. */
export function parseFrame<T>(frame: Frame, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(frame.payload.toString('utf8'));
  } catch {
    throw new BackupUnreadable(`damaged backup: its ${frame.type} frame is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new BackupUnreadable(`damaged backup: its ${frame.type} frame does not fit: ${parsed.error.message}`);
  return parsed.data;
}

/** Bytes received in chunks, taken from the front without copying everything on each read. */
class ChunkQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  peek(n: number): Buffer {
    this.merge(n);
    return this.chunks[0]!.subarray(0, n);
  }

  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.merge(n);
    const first = this.chunks[0]!;
    const taken = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.length -= n;
    return taken;
  }

  /** Makes the first chunk hold at least n bytes. */
  private merge(n: number): void {
    if (n === 0 || this.chunks[0]!.length >= n) return;
    let count = 0;
    let size = 0;
    while (size < n) size += this.chunks[count++]!.length;
    this.chunks.splice(0, count, Buffer.concat(this.chunks.slice(0, count), size));
  }
}
