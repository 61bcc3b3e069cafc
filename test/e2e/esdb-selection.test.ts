import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/ports.js';
import { runCli, startPostlogProcess, stopLeftoverPostlogProcesses } from '../helpers/postlog-process.js';

/*
 * POSTLOG_EVENT_STORE=esdb through `postlog start`: the setting is checked at start-up and the
 * process then really uses the EventStoreDB adapter. No EventStoreDB server can run here, so the
 * log is a loopback listener that drops every connection: /health must say the log is not
 * writable (the Postgres log it would otherwise use is), and the process stays up, waiting for it.
 */
describe('choosing EventStoreDB as the log with `postlog start`', () => {
  let db: TestDatabase;
  let dropper: Server;
  let env: Record<string, string>;

  before(async () => {
    db = await createTestDatabase();
    dropper = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', () => r()));
    env = {
      ...(process.env as Record<string, string>),
      POSTLOG_DATABASE_URL: db.url,
      POSTLOG_HTTP_PORT: String(await freePort()),
      POSTLOG_LOG_FORMAT: 'json',
      POSTLOG_ROLES: 'api,projector',
    };
  });
  after(async () => {
    await stopLeftoverPostlogProcesses();
    await new Promise((r) => dropper?.close(r));
    await db?.drop();
  });

  it('refuses to start without POSTLOG_ESDB_URL, saying so (exit 2)', async () => {
    const res = await runCli(['start'], { ...env, POSTLOG_EVENT_STORE: 'esdb' });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /POSTLOG_ESDB_URL: required when POSTLOG_EVENT_STORE is esdb/);
  });

  it('starts on the EventStoreDB adapter: ready, but the log is not writable while its server is away', async () => {
    const address = dropper.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const proc = await startPostlogProcess({
      ...env,
      POSTLOG_EVENT_STORE: 'esdb',
      POSTLOG_ESDB_URL: `esdb://127.0.0.1:${port}?tls=false`,
    });
    const health = await fetch(`${proc.url}/health`);
    assert.equal(health.status, 503);
    assert.equal(((await health.json()) as { eventLog: string }).eventLog, 'not writable');
    // the projector's subscriptions keep retrying instead of crashing the process
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(proc.child.exitCode, null, proc.output());
    assert.match(proc.output(), /resubscribing from the last checkpoint handled|projection failed; retrying/);
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.output());
  });
});
