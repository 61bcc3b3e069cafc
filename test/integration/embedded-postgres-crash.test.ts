import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../infra/logging/index.js';
import { EmbeddedPostgres } from '../../infra/postgres/index.js';
import { processState, readPostmasterLock } from '../../infra/postgres/postmaster-lock.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';

const ownerScript = resolve(dirname(fileURLToPath(import.meta.url)), '../helpers/embedded-postgres-owner.js');

/** A logger whose JSON lines the test can read. */
function capturingLogger(): {
  logger: ReturnType<typeof createLogger>;
  lines: () => { msg: string; [k: string]: unknown }[];
} {
  let text = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      text += chunk;
      done();
    },
  });
  return {
    logger: createLogger({ level: 'info', format: 'json', destination }),
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** A process that owns the server on dataDir; resolves with the server's URL once it accepts connections. */
async function startOwner(
  dataDir: string,
  port: number,
  children: ChildProcess[],
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [ownerScript, dataDir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolveUrl(out.trim());
    });
    child.once('exit', (code) =>
      reject(new Error(`the owner process exited (${code}) before its server was up:\n${err}`)),
    );
  });
  return { child, url };
}

/** Until the PID no longer runs: a zombie counts as stopped (nobody may have reaped it yet, and that is the point). */
const stopped = (pid: number) =>
  eventually(
    async () => (processState(pid) === 'running' ? undefined : true),
    () => `PID ${pid} still runs`,
    { timeoutMs: 10_000, intervalMs: 10 },
  );

describe('the embedded PostgreSQL after a kill -9', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const servers: EmbeddedPostgres[] = [];
  after(async () => {
    // an owner still running stops its server (a test failed half-way): no server outlives its data dir
    await Promise.all(
      children
        .filter((c) => c.exitCode === null && c.signalCode === null)
        .map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGTERM')))),
    );
    for (const s of servers) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('starts again at once, 20 times in a row, after its server and the process that owned it were killed; nothing committed is lost', async () => {
    const dataDir = tempDataDir('postlog-pgcrash-');
    dirs.push(dataDir);
    const port = await freePort();
    const { logger } = capturingLogger();
    for (let round = 1; round <= 20; round++) {
      const owner = await startOwner(dataDir, port, children);
      await query(owner.url, 'CREATE TABLE IF NOT EXISTS committed (round int PRIMARY KEY)');
      await query(owner.url, 'INSERT INTO committed VALUES ($1)', [round]);
      const pgPid = readPostmasterLock(join(dataDir, 'pg'))!.pid;
      // both at once, as a crash of the machine's OOM killer or an operator's kill -9 would: the
      // orphaned postmaster stays a zombie until init reaps it, and its lock files name it
      process.kill(pgPid, 'SIGKILL');
      owner.child.kill('SIGKILL');
      await stopped(pgPid);
      await stopped(owner.child.pid!);

      const server = new EmbeddedPostgres({ dataDir, port, logger, startTimeoutMs: 30_000 });
      servers.push(server);
      const url = await server.start().catch((err: Error) => assert.fail(`round ${round}: ${err.message}`));
      assert.ok(server.owned, `round ${round}: this process runs the server`);
      const rows = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM committed');
      assert.equal(rows[0]!.n, round, `round ${round}: every committed row is there`);
      await server.stop();
    }
  });

  it('makes a guest that finds it down (the CLI while postlog start runs) wait for its owner to start it again', async () => {
    const dataDir = tempDataDir('postlog-pgcrash-');
    dirs.push(dataDir);
    const port = await freePort();
    const owner = await startOwner(dataDir, port, children);
    const pgPid = readPostmasterLock(join(dataDir, 'pg'))!.pid;
    process.kill(pgPid, 'SIGKILL');
    await stopped(pgPid);

    const { logger, lines } = capturingLogger();
    const guest = new EmbeddedPostgres({ dataDir, port, logger });
    servers.push(guest);
    const url = await guest.start();
    assert.equal(
      guest.owned,
      false,
      'the owner keeps the server: a guest never starts one of its own while the owner runs',
    );
    assert.equal(
      (await query<{ one: number }>(url, 'SELECT 1 AS one'))[0]!.one,
      1,
      'ready to use once start() returns',
    );
    assert.notEqual(readPostmasterLock(join(dataDir, 'pg'))!.pid, pgPid);
    assert.ok(
      lines().some((l) =>
        l.msg.startsWith('the embedded PostgreSQL is down; waiting for the Postlog process that runs it'),
      ),
      JSON.stringify(lines()),
    );
    owner.child.kill('SIGTERM');
    await new Promise((r) => owner.child.once('exit', r));
    assert.equal(readPostmasterLock(join(dataDir, 'pg')), undefined, 'the owner stopped its server');
  });

  it('is started again by the process that owns it each time it dies, with a log line for each death and restart', async () => {
    const dataDir = tempDataDir('postlog-pgcrash-');
    dirs.push(dataDir);
    const { logger, lines } = capturingLogger();
    const server = new EmbeddedPostgres({ dataDir, port: await freePort(), logger });
    servers.push(server);
    const url = await server.start();
    await query(url, 'CREATE TABLE committed (round int PRIMARY KEY)');
    const restarts = () => lines().filter((l) => l.msg === 'embedded PostgreSQL restarted');
    for (let round = 1; round <= 3; round++) {
      await query(url, 'INSERT INTO committed VALUES ($1)', [round]);
      const pgPid = readPostmasterLock(join(dataDir, 'pg'))!.pid;
      process.kill(pgPid, 'SIGKILL');
      await eventually(
        async () => (restarts().length === round ? true : undefined),
        () => `restarts logged: ${JSON.stringify(lines().slice(-5))}`,
        { timeoutMs: 30_000 },
      );
      // the same URL: the pools of the process reconnect to the new server by themselves
      const rows = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM committed');
      assert.equal(rows[0]!.n, round, 'every committed row is there');
    }
    const deaths = lines().filter((l) => l.msg === 'the embedded PostgreSQL died; restarting it');
    assert.equal(deaths.length, 3, JSON.stringify(lines()));
    assert.equal(deaths[0]!.signal, 'SIGKILL');
    // the first restart comes at once; a server that keeps dying is restarted less and less often
    assert.deepEqual(
      deaths.map((d) => d.restartInMs),
      [0, 1000, 2000],
    );
    assert.ok(restarts().every((r) => typeof r.downMs === 'number' && typeof r.pgPid === 'number'));

    // a server stopped on purpose is not started again
    await server.stop();
    assert.equal(readPostmasterLock(join(dataDir, 'pg')), undefined);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(readPostmasterLock(join(dataDir, 'pg')), undefined, 'not started again after stop()');
  });
});
