import assert from 'node:assert/strict';
import { Transform, type TransformCallback } from 'node:stream';
import { describe, it } from 'node:test';
import { transformSync } from '../../infra/streams/index.js';

/** Upper-cases its input, pushing each chunk in two halves and a trailer on flush. */
class Shout extends Transform {
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const text = chunk.toString().toUpperCase();
    this.push(text.slice(0, 2));
    this.push(Buffer.from(text.slice(2)));
    done();
  }
  override _flush(done: TransformCallback): void {
    done(null, '!');
  }
}

class Later extends Transform {
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    setImmediate(() => done(null, chunk));
  }
}

class Refuses extends Transform {
  override _transform(_chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    done(new Error('no'));
  }
}

describe('transformSync', () => {
  it('gives what the transform pushes, strings and Buffers, and its flush output', () => {
    assert.equal(transformSync(new Shout(), Buffer.from('hello'))?.toString(), 'HELLO!');
  });

  it('gives the same bytes as the transform driven as a stream', async () => {
    const streamed = await new Promise<string>((resolve) => {
      const t = new Shout();
      const parts: Buffer[] = [];
      t.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts).toString()));
      t.end(Buffer.from('hello'));
    });
    assert.equal(transformSync(new Shout(), Buffer.from('hello'))?.toString(), streamed);
  });

  it('is undefined for a transform that answers later, and that one still works as a stream afterwards', async () => {
    const t = new Later();
    assert.equal(transformSync(t, Buffer.from('x')), undefined);
    await new Promise((r) => setImmediate(r));
    // its own push is back: pushing reaches its readers again
    const read = new Promise<string>((resolve) => t.once('data', (c: Buffer) => resolve(c.toString())));
    t.write(Buffer.from('y'));
    assert.equal(await read, 'y');
  });

  it('is undefined for a transform that fails', () => {
    assert.equal(transformSync(new Refuses(), Buffer.from('x')), undefined);
  });
});
