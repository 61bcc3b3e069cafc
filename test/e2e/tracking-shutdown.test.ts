import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import {
  baseEnv,
  runCli,
  startPostlogProcess,
  stopLeftoverPostlogProcesses,
  tempDataDir,
} from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

/** GET a path; the status, or 0 when the connection failed (refused, reset: the hit was not answered). */
function hit(agent: http.Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, agent, headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Reader/1.0' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
  });
}

describe('tracking hits and a clean shutdown (postlog start, several processes)', () => {
  let db: TestDatabase;
  let sink: SmtpSink;
  let sinkPort: number;
  before(async () => {
    db = await createTestDatabase();
    sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.15', sinkPort, { tls: false });
  });
  after(async () => {
    await stopLeftoverPostlogProcesses();
    await sink?.close();
    await db?.drop();
  });

  it('has every pixel hit it answered in the log after SIGTERM in the middle of a burst', async () => {
    const httpPort = await freePort();
    const env = await baseEnv(tempDataDir(), {
      POSTLOG_DATABASE_URL: db.url,
      POSTLOG_PROCESSES: '2',
      POSTLOG_HTTP_PORT: String(httpPort),
      POSTLOG_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      POSTLOG_SMART_HOST: `127.0.0.15:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
    });
    const postlog = await startPostlogProcess(env);
    const init = JSON.parse((await runCli(['init', '--json'], env)).stdout) as { serverId: string; apiKey: string };
    assert.equal(
      (await runCli(['domain', 'add', 'news.test', '--server', init.serverId, '--verified', '--json'], env)).code,
      0,
    );
    const to = Array.from({ length: 20 }, (_, i) => `reader${i}@example.org`);
    const res = await fetch(`${postlog.url}/v2/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
      body: JSON.stringify({ from: 'news@news.test', to, subject: 'News', html: '<p>Hello</p>' }),
    });
    assert.equal(res.status, 202, await res.text());
    await eventually(
      async () => sink.received.length >= to.length || undefined,
      () => `${sink.received.length} of ${to.length} delivered`,
      { timeoutMs: 30_000 },
    );
    const pixels: string[] = [];
    for (const m of sink.received)
      pixels.push(
        new URL(/<img src="([^"]+\/t\/o\/[^"]+)"/.exec((await PostalMime.parse(m.raw)).html ?? '')![1]!).pathname,
      );

    // 32 clients load pixels back to back; SIGTERM arrives while they do
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    let answered = 0;
    let attempted = 0;
    let stopped = false;
    const clients = Array.from({ length: 32 }, async (_, c) => {
      for (let i = c; !stopped; i += 32) {
        attempted++;
        const status = await hit(agent, httpPort, pixels[i % pixels.length]!);
        if (status === 200) answered++;
        else if (status === 0) return; // the server is gone
      }
    });
    await eventually(
      async () => answered >= 2000 || undefined,
      () => `only ${answered} hits answered`,
      { timeoutMs: 30_000 },
    );
    postlog.child.kill('SIGTERM');
    assert.equal(await postlog.exited, 0, postlog.output());
    stopped = true;
    await Promise.all(clients);
    agent.destroy();

    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE type = 'MessageOpened'`,
    );
    // a hit recorded whose answer was cut off by the closing connection counts as recorded, not answered
    assert.ok(rows[0]!.n >= answered, `${answered} hits answered, ${rows[0]!.n} in the log`);
    assert.ok(rows[0]!.n <= attempted);
  });
});
