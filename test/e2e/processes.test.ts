import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import {
  baseEnv,
  cliPath,
  runCli,
  startPostlogProcess,
  stopLeftoverPostlogProcesses,
  tempDataDir,
} from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

/** PIDs of the processes whose command line contains `marker` (the data dir is unique per test). */
function pidsOf(marker: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes('cli/main.js start'))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(marker);
      } catch {
        return false; // gone meanwhile
      }
    });
}

const metricValue = (text: string, line: RegExp) =>
  Number(
    text
      .split('\n')
      .find((l) => line.test(l))
      ?.split(' ')
      .pop() ?? NaN,
  );

describe('postlog start with several processes (POSTLOG_PROCESSES)', () => {
  let sink: SmtpSink;
  let smtpPort: number;

  before(async () => {
    smtpPort = await freePort();
    sink = await startSmtpSink('127.0.0.14', smtpPort, { tls: false });
  });
  after(async () => {
    await stopLeftoverPostlogProcesses();
    await sink?.close();
  });

  it('runs the roles in two web processes and a worker on one embedded PostgreSQL, restarts a process that dies, and stops cleanly', async () => {
    const dataDir = tempDataDir();
    const env = await baseEnv(dataDir, {
      POSTLOG_PROCESSES: '3',
      POSTLOG_SMART_HOST: `127.0.0.14:${smtpPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
    });
    const postlog = await startPostlogProcess(env);
    assert.match(postlog.output(), /Postlog is up in 3 processes/);
    assert.match(
      postlog.output(),
      /"processes":\["web\.1 \(api,smtp,inbound,tracking,graphql\)","web\.2 \(api,smtp,inbound,tracking,graphql\)","worker \(mta,projector\)"\]/,
    );
    // one certificate, made by the supervisor: two web processes making their own at once could
    // pair one's key with the other's certificate
    const generated = postlog
      .output()
      .split('\n')
      .filter((l) => l.includes('generated a self-signed TLS certificate'));
    assert.equal(generated.length, 1, generated.join('\n'));
    assert.match(generated[0]!, /"component":"supervisor"/);
    // … and said once: the processes it started do not repeat the warning
    assert.equal(
      postlog
        .output()
        .split('\n')
        .filter((l) => /self-signed/.test(l) && /"level":40/.test(l)).length,
      1,
      postlog.output(),
    );
    // the processes reach the embedded PostgreSQL by URL, yet say what it is: the supervisor started it
    // (each process writes its log lines asynchronously: the last may come after the supervisor is up)
    const databases = await eventually(
      async () => {
        const found = postlog.output().match(/"database":"\w+"(?=.*"msg":"process started)/g) ?? [];
        return found.length === 3 ? found : undefined;
      },
      () => `not three process starts in:\n${postlog.output()}`,
    );
    assert.deepEqual(databases, Array(3).fill('"database":"embedded"'), postlog.output());
    const [supervisor, ...workers] = pidsOf(dataDir);
    assert.equal(workers.length, 3, 'a supervisor and three processes');

    // the API (a web process) accepts, the MTA (the worker) delivers
    const init = JSON.parse((await runCli(['init', '--json'], env)).stdout) as { serverId: string; apiKey: string };
    assert.equal(
      (await runCli(['domain', 'add', 'sender.test', '--server', init.serverId, '--verified', '--json'], env)).code,
      0,
    );
    const send = async (to: string) => {
      const res = await fetch(`${postlog.url}/v2/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
        body: JSON.stringify({ from: 'app@sender.test', to: [to], subject: 'Hi', text: 'x' }),
      });
      assert.equal(res.status, 202, await res.text());
    };
    await send('first@example.org');
    await eventually(
      async () => sink.received.some((m) => m.to.includes('first@example.org')) || undefined,
      () => 'the first message was not delivered',
      { timeoutMs: 30_000 },
    );

    // /metrics shows every process: deliveries are counted in the worker, requests in the web processes
    const metrics = await eventually(
      async () => {
        const text = await (await fetch(`${postlog.url}/metrics`)).text();
        return metricValue(text, /^postlog_delivery_attempts_total\{outcome="delivered"\}/) === 1 ? text : undefined;
      },
      () => 'the delivery is not in the aggregated metrics',
    );
    assert.ok(
      metricValue(metrics, /^postlog_http_requests_total\{method="POST",route="\/v2\/messages",status="202"\}/) >= 1,
    );
    // … and each process's memory and event loop apart, the supervisor's too
    for (const p of ['web.1', 'web.2', 'worker', 'supervisor']) {
      const rss = metricValue(metrics, new RegExp(`^postlog_process_memory_bytes\\{process="${p}",kind="rss"\\}`));
      assert.ok(rss > 20e6 && rss < 2e9, `${p}: RSS ${rss}`);
      assert.ok(
        metricValue(
          metrics,
          new RegExp(`^postlog_process_event_loop_delay_seconds\\{process="${p}",quantile="0.99"\\}`),
        ) >= 0,
      );
    }
    assert.ok(metricValue(metrics, /^postlog_database_size_bytes /) > 1e6);

    // a web process that dies is started again; the other one keeps answering meanwhile
    const victim = workers[0]!;
    process.kill(victim, 'SIGKILL');
    await eventually(
      async () => /process web\.\d exited unexpectedly; starting it again/.test(postlog.output()) || undefined,
      () => 'no restart logged',
    );
    assert.equal((await fetch(`${postlog.url}/health`)).status, 200);
    const started = () => postlog.output().match(/"process":"(web\.\d|worker)".*"msg":"process started/g)?.length ?? 0;
    await eventually(
      async () => started() === 4 || undefined,
      () => `not restarted (${started()} process starts logged)`,
      { timeoutMs: 20_000 },
    );
    assert.ok(!pidsOf(dataDir).includes(victim));
    await send('second@example.org');
    await eventually(
      async () => sink.received.some((m) => m.to.includes('second@example.org')) || undefined,
      () => 'the second message was not delivered',
      { timeoutMs: 30_000 },
    );

    // every process dead at once: the supervisor stays and starts all of them again
    for (const pid of pidsOf(dataDir).filter((p) => p !== supervisor)) process.kill(pid, 'SIGKILL');
    await eventually(
      async () => started() === 7 || undefined,
      () => `not all restarted (${started()} process starts logged)`,
      { timeoutMs: 30_000 },
    );
    await eventually(
      async () => (await fetch(`${postlog.url}/ready`)).status === 200 || undefined,
      () => 'not ready again',
    );
    const afterRestarts = await (await fetch(`${postlog.url}/metrics`)).text();
    assert.equal(metricValue(afterRestarts, /^postlog_processes\{state="running"\}/), 3);
    assert.equal(metricValue(afterRestarts, /^postlog_process_restarts_total\{process="worker"\}/), 1);
    assert.ok(
      metricValue(afterRestarts, /^postlog_process_restarts_total\{process="web\.1"\}/) +
        metricValue(afterRestarts, /^postlog_process_restarts_total\{process="web\.2"\}/) ===
        3,
      afterRestarts
        .split('\n')
        .filter((l) => l.includes('restarts'))
        .join('\n'),
    );
    await send('third@example.org');
    await eventually(
      async () => sink.received.some((m) => m.to.includes('third@example.org')) || undefined,
      () => 'the third message was not delivered',
      { timeoutMs: 30_000 },
    );

    postlog.child.kill('SIGTERM');
    assert.equal(await postlog.exited, 0, postlog.output());
    assert.match(postlog.output(), /embedded PostgreSQL stopped/);
    assert.equal(
      (postlog.output().match(/stopped cleanly/g) ?? []).length,
      3,
      `each process finished its work:\n${postlog
        .output()
        .split('\n')
        .filter((l) => /signal|stopped|shutting|exited/.test(l))
        .join('\n')}`,
    );
    assert.deepEqual(pidsOf(dataDir), [], `left running: ${supervisor}`);
  });

  it('fails as a whole, with the reason, when one process cannot start', async () => {
    // the processes read the secrets key (the supervisor does not): a damaged one stops them at start-up
    const dataDir = tempDataDir();
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'secrets.key'), 'not a key\n', { mode: 0o600 });
    const env = await baseEnv(dataDir, { POSTLOG_PROCESSES: '2' });
    await assert.rejects(startPostlogProcess(env), (err: Error) => {
      assert.match(err.message, /secrets\.key: not a secrets key/);
      assert.match(err.message, /process (web\.1|worker) \([a-z,]+\) exited during start-up/);
      return true;
    });
    await eventually(
      async () => pidsOf(dataDir).length === 0 || undefined,
      () => `left running: ${pidsOf(dataDir).join(',')}`,
    );
  });

  it('stops cleanly when told to during start-up', async () => {
    const dataDir = tempDataDir();
    const env = await baseEnv(dataDir, { POSTLOG_PROCESSES: '2' });
    const child = spawn(process.execPath, [cliPath, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // the database is up and the processes are being started
    await eventually(
      async () => /embedded PostgreSQL started/.test(out) || undefined,
      () => `no database start in:\n${out}`,
      { timeoutMs: 30_000 },
    );
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /embedded PostgreSQL stopped/);
    assert.doesNotMatch(out, /could not start/);
    assert.deepEqual(pidsOf(dataDir), []);
  });

  it('refuses a process count that is not a number or auto', async () => {
    const env = await baseEnv(tempDataDir(), { POSTLOG_PROCESSES: 'many' });
    const result = await runCli(['start'], env);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /POSTLOG_PROCESSES/);
  });
});
