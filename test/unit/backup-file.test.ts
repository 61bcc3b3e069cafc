import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import {
  BACKUP_MAGIC,
  BackupUnreadable,
  FrameWriter,
  readFrames,
  type Frame,
} from '../../infra/postgres/backup/backup-file.js';
import { referencedFirst } from '../../infra/postgres/backup/database-contents.js';

/** The bytes a FrameWriter writes for these frames. */
async function bytesOf(frames: Frame[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const writer = new FrameWriter(out);
  await writer.magic();
  for (const f of frames) await writer.write(f.type, f.payload);
  out.end();
  return Buffer.concat(chunks);
}

async function framesOf(bytes: Buffer, chunkSize: number): Promise<Frame[]> {
  const chunks = async function* () {
    for (let at = 0; at < bytes.length; at += chunkSize) yield bytes.subarray(at, at + chunkSize);
  };
  const frames: Frame[] = [];
  for await (const f of readFrames(chunks())) frames.push({ type: f.type, payload: Buffer.from(f.payload) });
  return frames;
}

describe('the backup file', () => {
  const frames: Frame[] = [
    { type: 'H', payload: Buffer.from('{"a":1}') },
    { type: 'T', payload: Buffer.from('{"name":"events"}') },
    { type: 'D', payload: Buffer.alloc(70_000, 7) },
    { type: 'D', payload: Buffer.alloc(0) },
    { type: 'E', payload: Buffer.from('{"rows":3}') },
    { type: 'Z', payload: Buffer.from('{"tables":1,"rows":3}') },
  ];

  it('reads back the frames written, however the bytes arrive', async () => {
    const bytes = await bytesOf(frames);
    assert.ok(bytes.subarray(0, BACKUP_MAGIC.length).equals(BACKUP_MAGIC));
    for (const size of [1, 3, 5, 17, 4096, bytes.length]) assert.deepEqual(await framesOf(bytes, size), frames);
  });

  it('says a file is truncated, or not a backup', async () => {
    const bytes = await bytesOf(frames);
    await assert.rejects(framesOf(bytes.subarray(0, bytes.length - 3), 100), BackupUnreadable);
    await assert.rejects(framesOf(Buffer.from('PGDMP custom format'), 100), /not a Postlog backup/);
    await assert.rejects(framesOf(Buffer.from('POST'), 100), /too short/);
  });
});

describe('the order tables are restored in', () => {
  it('puts a table after the tables it references, keeping names in order otherwise', () => {
    const order = referencedFirst(
      ['credentials', 'domains', 'organizations', 'servers', 'events'],
      [
        { child: 'servers', parent: 'organizations' },
        { child: 'domains', parent: 'servers' },
        { child: 'credentials', parent: 'servers' },
        { child: 'events', parent: 'events' },
      ],
    );
    assert.deepEqual(order, ['organizations', 'servers', 'events', 'credentials', 'domains']);
  });

  it('leaves the tables of a cycle at the end instead of losing them', () => {
    const order = referencedFirst(
      ['a', 'b', 'c'],
      [
        { child: 'a', parent: 'b' },
        { child: 'b', parent: 'a' },
      ],
    );
    assert.deepEqual(order, ['c', 'a', 'b']);
  });
});
