import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readPostmasterLock } from '../../infra/postgres/postmaster-lock.js';
import { eventually } from '../helpers/eventually.js';
import {
  baseEnv,
  runCli,
  startPostlogProcess,
  stopLeftoverPostlogProcesses,
  tempDataDir,
} from '../helpers/postlog-process.js';

/** /ready's status, or the error when nothing answers. */
async function readiness(url: string): Promise<number | string> {
  try {
    return (await fetch(`${url}/ready`, { signal: AbortSignal.timeout(10_000) })).status;
  } catch (err) {
    return (err as Error).message;
  }
}

/** /ready asked every 25 ms: the answers in order, each change once. */
function sampleReadiness(url: string) {
  const answers: (number | string)[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const answer = await readiness(url);
      if (answers[answers.length - 1] !== answer) answers.push(answer);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    seen: () => answers,
    stop: () => {
      running = false;
      return loop;
    },
  };
}

/** For failure messages: what Postlog warned about, and its last lines. */
const tail = (output: string) => {
  const lines = output.split('\n');
  return [...lines.filter((l) => /"level":(40|50|60)/.test(l)).slice(-30), '…', ...lines.slice(-10)]
    .map((l) => l.slice(0, 400))
    .join('\n');
};

/**
 * Clients sending all the time: what the API acknowledged (202) must be in the log afterwards.
 * A request that fails (5xx while the database is down) or gets no answer was not acknowledged.
 */
function startSenders(url: string, apiKey: string, concurrency: number) {
  const acknowledged: string[] = [];
  const failures: string[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async (_, worker) => {
    for (let n = 0; running; n++) {
      try {
        const res = await fetch(`${url}/v2/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-server-api-key': apiKey },
          body: JSON.stringify({
            from: 'app@sender.test',
            to: [`w${worker}n${n}@rcpt.test`],
            subject: 'while the database dies',
            text: 'x',
          }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json()) as { messages?: { id: string }[] };
        if (res.status === 202) {
          acknowledged.push(...body.messages!.map((m) => m.id));
          continue;
        }
        failures.push(String(res.status));
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 100)); // as a client backs off
    }
  });
  return {
    acknowledged,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('postlog start when its embedded PostgreSQL is killed', () => {
  after(stopLeftoverPostlogProcesses);

  // one process owns the database and serves; with two, the supervisor owns it and a web process serves
  for (const processes of ['1', '2']) {
    it(`(${processes} process${processes === '1' ? '' : 'es'}) answers /ready 503 while it is down, starts it again, says so, and loses nothing it acknowledged`, async () => {
      const dataDir = tempDataDir();
      // MTA retries go nowhere (no resolver): the load here is the API's
      const env = await baseEnv(dataDir, { POSTLOG_PROCESSES: processes, POSTLOG_LOG_LEVEL: 'info' });
      const postlog = await startPostlogProcess(env);
      const cli = async (args: string[]) => {
        const result = await runCli(args, env);
        assert.equal(result.code, 0, `postlog ${args.join(' ')}: ${result.stderr}`);
        return result.stdout;
      };
      const init = JSON.parse(await cli(['init', '--json'])) as { serverId: string; apiKey: string };
      await cli(['domain', 'add', 'sender.test', '--server', init.serverId, '--verified', '--json']);

      const senders = startSenders(postlog.url, init.apiKey, 3);
      try {
        await eventually(
          async () => (senders.acknowledged.length >= 20 ? true : undefined),
          () => `acknowledged ${senders.acknowledged.length}; failures: ${senders.failures.slice(-3).join(', ')}`,
        );
        const readyAnswers = sampleReadiness(postlog.url);
        try {
          // one answer before the kill: a request in flight at the kill would be answered after it
          await eventually(
            async () => (readyAnswers.seen().length > 0 ? true : undefined),
            () => 'no /ready answer',
          );
          const killed = readPostmasterLock(join(dataDir, 'pg'))!.pid;
          process.kill(killed, 'SIGKILL');
          const restarted = () =>
            postlog
              .output()
              .split('\n')
              .filter((l) => l.includes('"msg":"embedded PostgreSQL restarted"'));
          await eventually(
            async () => (restarted().length === 1 ? true : undefined),
            () => `no restart logged:\n${tail(postlog.output())}`,
            { timeoutMs: 60_000 },
          );
          const died = postlog
            .output()
            .split('\n')
            .find((l) => l.includes('the embedded PostgreSQL died; restarting it'))!;
          assert.match(died, new RegExp(`"pgPid":${killed}\\b`));
          assert.match(died, /"signal":"SIGKILL"/);
          assert.notEqual(readPostmasterLock(join(dataDir, 'pg'))!.pid, killed, 'a new server');
          // and once more right away: a server that dies again soon is restarted after a pause (1 s),
          // an outage long enough for /ready to be seen answering 503 on a busy machine too
          process.kill(readPostmasterLock(join(dataDir, 'pg'))!.pid, 'SIGKILL');
          await eventually(
            async () => (restarted().length === 2 ? true : undefined),
            () => `no second restart logged:\n${tail(postlog.output())}`,
            { timeoutMs: 60_000 },
          );
          let last: number | string = '';
          await eventually(
            async () => ((last = await readiness(postlog.url)) === 200 ? true : undefined),
            () => `/ready answered ${last}, not 200 again`,
            { timeoutMs: 30_000 },
          );
        } finally {
          await readyAnswers.stop();
        }
        const answers = readyAnswers.seen();
        assert.ok(answers.includes(503), `/ready never answered 503 during the outages: ${answers.join(',')}`);
        assert.equal(answers[0], 200, `/ready before the kill: ${answers.join(',')}\n${tail(postlog.output())}`);
        assert.ok(postlog.output().includes('the database is unreachable: /ready answers 503'), 'outage logged');
        assert.ok(postlog.output().includes('the database is reachable again'), 'recovery logged');
        assert.match(postlog.output(), /"restartInMs":1000,"msg":"the embedded PostgreSQL died; restarting it"/);

        // it takes mail again by itself
        const atRestart = senders.acknowledged.length;
        await eventually(
          async () => (senders.acknowledged.length >= atRestart + 20 ? true : undefined),
          () =>
            `acknowledged ${senders.acknowledged.length - atRestart} since the restart; failures: ${senders.failures.slice(-3).join(', ')}`,
          { timeoutMs: 30_000 },
        );
      } finally {
        await senders.stop();
      }

      // every message acknowledged, before the kill, during the outage and after, is in the log
      const missing: string[] = [];
      for (const id of senders.acknowledged) {
        const res = await fetch(`${postlog.url}/v2/messages/${id}/history`, {
          headers: { 'x-server-api-key': init.apiKey },
        });
        const history = (await res.json()) as { events?: unknown[] };
        if (res.status !== 200 || !history.events?.length) missing.push(`${id} (${res.status})`);
      }
      assert.deepEqual(
        missing,
        [],
        `${missing.length} of ${senders.acknowledged.length} acknowledged messages are not in the log`,
      );
      assert.equal(postlog.child.exitCode, null, 'Postlog kept running');

      postlog.child.kill('SIGTERM');
      assert.equal(await postlog.exited, 0, postlog.output().split('\n').slice(-20).join('\n'));
      assert.match(postlog.output(), /embedded PostgreSQL stopped/);
    });
  }
});
