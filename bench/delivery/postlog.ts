import { startDnsServer, freeUdpPort } from '../../test/helpers/dns-server.js';
import { freePort } from '../../test/helpers/ports.js';
import { PipeliningSmtpClient } from '../smtp-load-client.js';
import { closedLoop, startPostlogForBench } from '../support.js';
import {
  body,
  CONNECTIONS,
  DOMAINS,
  recipient,
  SENDER_DOMAIN,
  submitPipelined,
  type DeliverySystem,
  type RunningSystem,
  type Sink,
} from './system.js';

/**
 * A real `postlog start` (every role, embedded PostgreSQL, DKIM-signing with the key it makes for the
 * domain) whose MTA finds the sink through dnsmasq's MX records for the ten domains.
 */
async function startPostlog(sink: Sink, bytes: number, path: 'http' | 'smtp'): Promise<RunningSystem> {
  const dnsPort = await freeUdpPort();
  const dns = await startDnsServer(
    {
      mx: DOMAINS.map((d) => [d, 'mx.sink.bench', 10] as [string, string, number]),
      a: [['mx.sink.bench', sink.host]],
      local: ['bench'],
    },
    dnsPort,
  );
  const submissionPort = await freePort();
  const postlog = await startPostlogForBench({
    POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
    POSTLOG_MTA_PORT: String(sink.port),
    POSTLOG_MTA_POLL_MS: '20',
    POSTLOG_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    POSTLOG_SUBMISSION_PORT: String(submissionPort),
    POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
    POSTLOG_SMTP_MAX_MESSAGES_PER_CONNECTION: '1000000',
    ...(process.env.BENCH_CONNECTIONS
      ? { POSTLOG_MTA_MAX_CONNECTIONS_PER_DESTINATION: process.env.BENCH_CONNECTIONS }
      : {}),
  });
  const stop = async () => {
    await postlog.stop();
    await dns.stop();
  };
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as {
      serverId: string;
      apiKey: string;
      smtp: { username: string; password: string };
    };
    await postlog.cli(['domain', 'add', SENDER_DOMAIN, '--server', init.serverId, '--verified', '--json']);
    const text = body(bytes);
    const submitHttp = async (first: number, count: number) => {
      let next = first;
      const result = await closedLoop(
        postlog.url,
        CONNECTIONS,
        600,
        () => {
          const i = next++;
          return {
            path: '/v2/messages',
            headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
            body: JSON.stringify({
              from: `Bench <bench@${SENDER_DOMAIN}>`,
              to: [recipient(i)],
              subject: `Delivery benchmark ${i}`,
              text,
            }),
          };
        },
        (s) => s === 202,
        () => next < first + count,
      );
      // a refused message never reaches the sink: say why now rather than after waiting for it
      if (result.errors > 0)
        throw new Error(`${result.errors} of ${count} messages were not accepted: ${result.firstError ?? 'unknown'}`);
    };
    const submitSmtp = (first: number, count: number) =>
      submitPipelined(
        () => PipeliningSmtpClient.connect('127.0.0.1', submissionPort, init.smtp.username, init.smtp.password),
        first,
        count,
        text,
      );
    return { submit: path === 'http' ? submitHttp : submitSmtp, pids: () => [postlog.pid], stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export const postlogHttp: DeliverySystem = {
  key: 'postlog-http',
  label: 'Postlog, HTTP /v2 → delivery (DKIM RSA-2048)',
  signs: true,
  unavailable: () => undefined,
  start: (sink, bytes) => startPostlog(sink, bytes, 'http'),
};

export const postlogSmtp: DeliverySystem = {
  key: 'postlog-smtp',
  label: 'Postlog, SMTP submission → delivery (DKIM RSA-2048)',
  signs: true,
  unavailable: () => undefined,
  start: (sink, bytes) => startPostlog(sink, bytes, 'smtp'),
};
