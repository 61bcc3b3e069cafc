import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { coalesceWritesPerTick } from '../../infra/streams/writes-per-tick.js';
import { loadTlsMaterial } from '../../infra/tls/certificate.js';
import { testLogger } from '../helpers/database.js';

const dir = mkdtempSync(join(tmpdir(), 'postlog-writes-'));

/**
 * A TLS server that answers each "go" with three replies written in one tick (as smtp-server
 * answers pipelined MAIL, RCPT and DATA); returns the chunks the client read for each round.
 * A TLS record is read as one chunk, so one chunk per round means one record.
 */
async function rounds(coalesce: boolean, count: number): Promise<string[][]> {
  const material = await loadTlsMaterial({ dataDir: dir, hostname: 'localhost', logger: testLogger });
  const server = tls.createServer({ key: material.key, cert: material.cert }, (socket) => {
    socket.setNoDelay(true);
    // applied twice, as a client whose socket STARTTLS replaces applies it per message: the same as once
    if (coalesce) coalesceWritesPerTick(socket);
    if (coalesce) coalesceWritesPerTick(socket);
    socket.on('data', () => {
      socket.write('250 2.1.0 Ok\r\n');
      socket.write('250 2.1.5 Ok\r\n');
      socket.write('354 Go ahead\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = tls.connect({
    port: (server.address() as AddressInfo).port,
    host: '127.0.0.1',
    rejectUnauthorized: false,
  });
  await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
  client.setEncoding('utf8');
  const result: string[][] = [];
  try {
    for (let i = 0; i < count; i++) {
      const chunks: string[] = [];
      await new Promise<void>((resolve) => {
        const onData = (chunk: string) => {
          chunks.push(chunk);
          if (chunks.join('').includes('354')) {
            client.off('data', onData);
            resolve();
          }
        };
        client.on('data', onData);
        client.write('MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n');
      });
      result.push(chunks);
    }
  } finally {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  return result;
}

describe('writes coalesced per tick', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('sends the replies of one tick in one TLS record, complete and in order', async () => {
    for (const chunks of await rounds(true, 50))
      assert.deepEqual(chunks, ['250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n']);
  });

  it('(the reference: without it, the first reply leaves on its own)', async () => {
    const split = (await rounds(false, 50)).filter((chunks) => chunks.length > 1).length;
    assert.ok(split >= 45, `only ${split} of 50 rounds came in more than one record`);
  });
});
