import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { baseEnv, runCli, tempDataDir } from '../helpers/postlog-process.js';

/** Holds a port on loopback, as another program would. */
async function occupy(port: number): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

describe('postlog start when ports are taken', () => {
  const dataDir = tempDataDir('postlog-busy-ports-');
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('reports every port that is taken at once, with its setting and code, before the database starts', async () => {
    const env = await baseEnv(dataDir, { POSTLOG_PROCESSES: '1' });
    const blockers = await Promise.all(
      ['POSTLOG_HTTP_PORT', 'POSTLOG_SUBMISSION_PORT', 'POSTLOG_INBOUND_PORT'].map((name) => occupy(Number(env[name]))),
    );
    try {
      const res = await runCli(['start'], env);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      const fatal = res.stdout.split('\n').filter((l) => /"level":60/.test(l));
      assert.equal(fatal.length, 1, res.stdout);
      const line = JSON.parse(fatal[0]!) as { msg: string; err: { code: string } };
      assert.equal(line.err.code, 'PORTS_UNAVAILABLE');
      assert.equal(
        line.msg,
        'Postlog could not start: PORTS_UNAVAILABLE: 3 ports cannot be listened on: ' +
          `HTTP port ${env.POSTLOG_HTTP_PORT} is in use: set POSTLOG_HTTP_PORT to a free port; ` +
          `SMTP port ${env.POSTLOG_SUBMISSION_PORT} is in use: set POSTLOG_SUBMISSION_PORT to a free port; ` +
          `SMTP port ${env.POSTLOG_INBOUND_PORT} is in use: set POSTLOG_INBOUND_PORT to a free port`,
      );
      assert.equal(existsSync(join(dataDir, 'pg')), false, 'the embedded PostgreSQL was not started');
    } finally {
      for (const b of blockers) b.close();
    }
  });

  it('under the supervisor, every port is checked before any process starts, all reported at once', async () => {
    const env = await baseEnv(dataDir, { POSTLOG_PROCESSES: '2' });
    const blockers = await Promise.all(
      ['POSTLOG_HTTP_PORT', 'POSTLOG_SUBMISSION_TLS_PORT', 'POSTLOG_INBOUND_PORT'].map((name) =>
        occupy(Number(env[name])),
      ),
    );
    try {
      const res = await runCli(['start'], env);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      const reported = res.stdout.split('\n').filter((l) => /"level":60/.test(l));
      assert.equal(reported.length, 1, res.stdout);
      // no process started: in particular no background process whose MTA would deliver with this start's settings
      assert.doesNotMatch(res.stdout, /"process":"(web\.1|worker)"/, res.stdout);
      assert.match(
        reported[0]!,
        new RegExp(
          'Postlog could not start: PORTS_UNAVAILABLE: 3 ports cannot be listened on: ' +
            `HTTP port ${env.POSTLOG_HTTP_PORT} is in use: set POSTLOG_HTTP_PORT to a free port; ` +
            `SMTP port ${env.POSTLOG_SUBMISSION_TLS_PORT} is in use: set POSTLOG_SUBMISSION_TLS_PORT to a free port; ` +
            `SMTP port ${env.POSTLOG_INBOUND_PORT} is in use: set POSTLOG_INBOUND_PORT to a free port`,
        ),
      );
    } finally {
      for (const b of blockers) b.close();
    }
  });

  it('names a port given to two listeners', async () => {
    const env = await baseEnv(dataDir, { POSTLOG_PROCESSES: '1' });
    const res = await runCli(['start'], { ...env, POSTLOG_INBOUND_PORT: env.POSTLOG_SUBMISSION_PORT! });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(
      res.stdout,
      new RegExp(
        `PORTS_UNAVAILABLE: port ${env.POSTLOG_SUBMISSION_PORT} is set for ` +
          'POSTLOG_SUBMISSION_PORT and POSTLOG_INBOUND_PORT',
      ),
    );
  });
});
