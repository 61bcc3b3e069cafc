import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { freePort } from '../test/helpers/ports.js';
import { startPostlogForBench } from './support.js';

/** 20 concurrent authenticated SMTP connections submitting 3 KB messages to a real `postlog start`. */
export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const connections = 20;
  const port = await freePort();
  const postlog = await startPostlogForBench({ POSTLOG_ROLES: 'api,smtp', POSTLOG_SUBMISSION_PORT: String(port), POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()), POSTLOG_SMTP_MAX_MESSAGES_PER_CONNECTION: '1000000' });
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as { serverId: string; smtp: { username: string; password: string } };
    await postlog.cli(['domain', 'add', 'bench.test', '--server', init.serverId, '--verified', '--json']);
    const body = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor.\r\n'.repeat(38);
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    let n = 0;
    const run = async (durationMs: number, record: boolean) => {
      const deadline = performance.now() + durationMs;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          const c = new SMTPConnection({ host: '127.0.0.1', port, requireTLS: true, tls: { rejectUnauthorized: false }, allowInternalNetworkInterfaces: true, logger: false });
          await new Promise<void>((res, rej) => {
            c.once('error', rej);
            c.connect(() => res());
          });
          await new Promise<void>((res, rej) => c.login({ credentials: { user: init.smtp.username, pass: init.smtp.password } } as never, (err) => (err ? rej(err) : res())));
          let first = true;
          while (performance.now() < deadline) {
            const i = n++;
            if (!first) await new Promise<void>((res, rej) => c.reset((err) => (err ? rej(err) : res())));
            first = false;
            const raw = `From: Bench <bench@bench.test>\r\nTo: rcpt${i}@example${i % 10}.org\r\nSubject: Submission benchmark ${i}\r\nMessage-ID: <${i}.${Date.now()}@bench.test>\r\n\r\n${body}`;
            const t0 = performance.now();
            const ok = await new Promise<boolean>((res) =>
              c.send({ from: 'bench@bench.test', to: [`rcpt${i}@example${i % 10}.org`] }, raw, (err) => {
                if (err && record) {
                  errors++;
                  firstError ??= err.message;
                }
                res(!err);
              }),
            );
            if (record && ok) latencies.push(performance.now() - t0);
          }
          c.quit();
        }),
      );
    };
    await run(2000, false); // warm-up
    const started = performance.now();
    await run(seconds * 1000, true);
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const perSecond = Math.round(latencies.length / elapsed);
    const p = (q: number) => +(latencies[Math.floor(latencies.length * q)] ?? 0).toFixed(2);
    process.stderr.write(`SMTP submission: ${perSecond} msg/s over ${connections} connections, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, errors ${errors}\n`);
    return { bench: 'submission', connections, messageBytes: 3072, messages: latencies.length, seconds: +elapsed.toFixed(2), perSecond, p50Ms: p(0.5), p99Ms: p(0.99), errors, ...(firstError ? { firstError } : {}), targets: { perSecond: 2000 }, met: { throughput: perSecond >= 2000 } };
  } finally {
    await postlog.stop();
  }
}
