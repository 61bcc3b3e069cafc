import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { EmbeddedPostgres } from '../../infra/postgres/index.js';
import { socketDirectoryFor } from '../../infra/postgres/embedded-server.js';
import { testLogger } from '../helpers/database.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';

/** The address the server sees the connection on: null for a Unix socket. */
async function serverAddress(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ addr: string | null }>('SELECT host(inet_server_addr()) AS addr');
    return rows[0]!.addr;
  } finally {
    await client.end();
  }
}

describe('the embedded PostgreSQL connection', () => {
  const dirs: string[] = [];
  const servers: EmbeddedPostgres[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('goes over a Unix socket in the cluster directory; TCP stays open for other tools', async () => {
    const dataDir = tempDataDir('postlog-pgsock-');
    dirs.push(dataDir);
    const port = await freePort();
    const server = new EmbeddedPostgres({ dataDir, port, logger: testLogger });
    servers.push(server);
    const url = await server.start();
    assert.equal(new URL(url).hostname, encodeURIComponent(join(dataDir, 'pg')));
    assert.equal(await serverAddress(url), null, 'a Unix-socket connection');
    assert.equal(await serverAddress(url.replace(/@[^:]+:/, '@127.0.0.1:')), '127.0.0.1');

    // another instance on the same data dir finds the socket in postmaster.pid (the CLI's guest mode
    // does the same; from this process it counts as adopting the server)
    const again = new EmbeddedPostgres({ dataDir, port, logger: testLogger });
    assert.equal(await again.start(), url);
  });

  it('falls back to TCP when the socket path would be longer than Linux allows', async () => {
    const base = tempDataDir('postlog-pgsock-');
    dirs.push(base);
    const dataDir = join(base, 'a-data-directory-whose-path-is-too-long-for-a-unix-socket'.repeat(2));
    mkdirSync(dataDir, { recursive: true, mode: 0o755 });
    const port = await freePort();
    assert.equal(socketDirectoryFor(join(dataDir, 'pg'), port), undefined);
    const server = new EmbeddedPostgres({ dataDir, port, logger: testLogger });
    servers.push(server);
    const url = await server.start();
    assert.equal(new URL(url).hostname, '127.0.0.1');
    assert.equal(await serverAddress(url), '127.0.0.1');
  });

  it('keeps socket paths within 107 bytes', () => {
    assert.equal(socketDirectoryFor('/srv/postlog/data/pg', 5432), '/srv/postlog/data/pg');
    const longest = `/${'d'.repeat(107 - '/.s.PGSQL.5432'.length - 1)}`;
    assert.equal(socketDirectoryFor(longest, 5432), longest);
    assert.equal(socketDirectoryFor(`${longest}x`, 5432), undefined);
  });
});
