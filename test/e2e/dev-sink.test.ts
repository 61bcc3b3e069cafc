import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
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

/** `postlog dev-sink` as README's first steps use it: Postlog's smart host on the same machine. */
describe('postlog dev-sink', () => {
  const dataDir = tempDataDir('postlog-dev-sink-');
  const sinkDir = join(dataDir, 'sink');
  after(async () => {
    await stopLeftoverPostlogProcesses();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('receives what postlog send sends through a Postlog that uses it as its smart host', async () => {
    const port = await freePort();
    // no --host: loopback by default
    const sink = spawn(process.execPath, [cliPath, 'dev-sink', '--port', String(port), '--dir', sinkDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sink.stdout.on('data', (d) => (out += d));
    sink.stderr.on('data', (d) => (out += d));
    const sinkExited = new Promise<number | null>((r) => sink.on('exit', (code) => r(code)));
    try {
      await eventually(
        async () => /Point Postlog at it/.test(out) || undefined,
        () => `dev-sink did not start:\n${out}`,
      );
      // it says what to set, and that is what this test sets
      const settings = `POSTLOG_SMART_HOST=127.0.0.1:${port} POSTLOG_SMART_HOST_TLS=none`;
      assert.match(
        out,
        new RegExp(`SMTP on 127\\.0\\.0\\.1:${port} .*\\nPoint Postlog at it: ${settings} npm start\\n`),
      );

      const env = await baseEnv(dataDir, {
        POSTLOG_SMART_HOST: `127.0.0.1:${port}`,
        POSTLOG_SMART_HOST_TLS: 'none',
        POSTLOG_MTA_POLL_MS: '50',
        POSTLOG_PROCESSES: '1',
      });
      const init = JSON.parse((await runCli(['init', '--json'], env)).stdout) as { serverId: string };
      const domain = await runCli(['domain', 'add', 'example.com', '--server', init.serverId, '--verified'], env);
      assert.equal(domain.code, 0, domain.stderr);
      const postlog = await startPostlogProcess(env);
      try {
        const sent = await runCli(
          [
            'send',
            ...['--server', init.serverId, '--from', 'App <app@example.com>', '--to', 'someone@example.org'],
            ...['--subject', 'Grüße from Postlog', '--text', 'Hello'],
          ],
          env,
        );
        assert.equal(sent.code, 0, sent.stderr);
        const line = await eventually(
          async () => out.split('\n').find((l) => l.startsWith('from <')),
          () => `the sink printed no message:\n${out}\n${postlog.output()}`,
          { timeoutMs: 30_000 },
        );
        assert.match(
          line,
          /^from <app@example\.com> to someone@example\.org: "Grüße from Postlog" \(\d+ bytes\) → .*\.eml$/,
        );
        const files = readdirSync(sinkDir);
        assert.equal(files.length, 1);
        const eml = readFileSync(join(sinkDir, files[0]!), 'utf8');
        assert.match(eml, /^DKIM-Signature: /m, 'what Postlog delivers, signed');
        assert.match(eml, /^To: someone@example\.org/m);
        assert.equal(Number(/\((\d+) bytes\)/.exec(line)![1]), Buffer.byteLength(eml));
      } finally {
        postlog.child.kill('SIGINT');
        assert.equal(await postlog.exited, 0);
      }
    } finally {
      sink.kill('SIGINT');
      assert.equal(await sinkExited, 0, out);
    }
  });

  it('refuses a port that is not one (usage, exit 2)', async () => {
    const res = await runCli(['dev-sink', '--port', 'smtp'], await baseEnv(dataDir));
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /--port must be a port number \(0-65535\)/);
  });
});
