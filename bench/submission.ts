import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { freePort } from '../test/helpers/ports.js';
import { PipeliningSmtpClient } from './smtp-load-client.js';
import { cpuPerMessageSince, machineBusyMs, startPostlogForBench } from './support.js';

/**
 * 20 concurrent authenticated (STARTTLS + AUTH) SMTP connections submitting 3 KB messages to a
 * real `postlog start`: with a pipelining client (the figure the target is for) and with
 * nodemailer's one-command-per-round-trip client.
 */
export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const connections = 20;
  const port = await freePort();
  const postlog = await startPostlogForBench({
    POSTLOG_ROLES: 'api,smtp',
    POSTLOG_SUBMISSION_PORT: String(port),
    POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
    POSTLOG_SMTP_MAX_MESSAGES_PER_CONNECTION: '1000000',
  });
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as {
      serverId: string;
      smtp: { username: string; password: string };
    };
    await postlog.cli(['domain', 'add', 'bench.test', '--server', init.serverId, '--verified', '--json']);
    const body = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor.\r\n'.repeat(38);
    const message = (i: number) =>
      `From: Bench <bench@bench.test>\r\nTo: rcpt${i}@example${i % 10}.org\r\nSubject: Submission benchmark ${i}\r\nMessage-ID: <${i}.${Date.now()}@bench.test>\r\n\r\n${body}`;
    let n = 0;

    /** `connections` clients submitting back to back for `durationMs`; latency per message. */
    const measure = async (durationMs: number, client: 'pipelining' | 'nodemailer') => {
      const latencies: number[] = [];
      let errors = 0;
      let firstError: string | undefined;
      const deadline = performance.now() + durationMs;
      const started = performance.now();
      const busy0 = machineBusyMs();
      await Promise.all(
        Array.from({ length: connections }, async () => {
          const send = client === 'pipelining' ? await pipelining() : await nodemailer();
          while (performance.now() < deadline) {
            const i = n++;
            const t0 = performance.now();
            try {
              await send.message(`rcpt${i}@example${i % 10}.org`, message(i));
              latencies.push(performance.now() - t0);
            } catch (err) {
              errors++;
              firstError ??= (err as Error).message;
            }
          }
          await send.close();
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      // machine-wide (Postlog, PostgreSQL and this load client), steal excluded: steadier than the rate
      const cpuMicrosecondsPerMessage = cpuPerMessageSince(busy0, latencies.length);
      latencies.sort((a, b) => a - b);
      const p = (q: number) => +(latencies[Math.floor(latencies.length * q)] ?? 0).toFixed(2);
      const result = {
        client,
        messages: latencies.length,
        seconds: +elapsed.toFixed(2),
        perSecond: Math.round(latencies.length / elapsed),
        cpuMicrosecondsPerMessage,
        p50Ms: p(0.5),
        p99Ms: p(0.99),
        errors,
        ...(firstError ? { firstError } : {}),
      };
      process.stderr.write(
        `SMTP submission (${client}): ${result.perSecond} msg/s over ${connections} connections, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, errors ${errors}\n`,
      );
      return result;
    };
    // MAIL, RCPT and DATA in one write (RFC 2920), as MTAs such as Postfix submit
    const pipelining = async () => {
      const c = await PipeliningSmtpClient.connect('127.0.0.1', port, init.smtp.username, init.smtp.password);
      return { message: (to: string, raw: string) => c.send('bench@bench.test', to, raw), close: () => c.quit() };
    };
    // nodemailer: one command per round trip, RSET between messages
    const nodemailer = async () => {
      const c = new SMTPConnection({
        host: '127.0.0.1',
        port,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
        allowInternalNetworkInterfaces: true,
        logger: false,
      });
      await new Promise<void>((res, rej) => {
        c.once('error', rej);
        c.connect(() => res());
      });
      await new Promise<void>((res, rej) =>
        c.login({ credentials: { user: init.smtp.username, pass: init.smtp.password } } as never, (err) =>
          err ? rej(err) : res(),
        ),
      );
      let first = true;
      return {
        message: async (to: string, raw: string) => {
          if (!first) await new Promise<void>((res, rej) => c.reset((err) => (err ? rej(err) : res())));
          first = false;
          await new Promise<void>((res, rej) =>
            c.send({ from: 'bench@bench.test', to: [to] }, raw, (err) => (err ? rej(err) : res())),
          );
        },
        close: async () => c.quit(),
      };
    };

    // measured warm, as a server runs: V8 is still compiling the hot paths for about ten seconds
    const warmUpSeconds = Number(process.env.BENCH_WARM_UP_SECONDS ?? 10);
    await measure(warmUpSeconds * 1000, 'pipelining');
    const pipelined = await measure(seconds * 1000, 'pipelining');
    const oneByOne = await measure(seconds * 1000, 'nodemailer');
    return {
      bench: 'submission',
      connections,
      messageBytes: 3072,
      warmUpSeconds,
      postlogProcesses: postlog.env.POSTLOG_PROCESSES,
      ...pipelined,
      nodemailer: oneByOne,
      targets: { perSecond: 2000 },
      met: { throughput: pipelined.perSecond >= 2000 },
    };
  } finally {
    await postlog.stop();
  }
}
