import type { SMTPServer } from 'smtp-server';
import { AuthThrottle } from '../../write-side/smtp/auth-throttle.js';
import { createSubmissionServer } from '../../write-side/smtp/submission-server.js';
import { listenProblem, PortsUnavailable } from '../listen-ports.js';
import type { Role } from './role.js';

/** SMTP submission on 587 (STARTTLS) and 465 (implicit TLS), AUTH with a server's SMTP credential. */
export const smtpRole: Role = {
  name: 'smtp',
  async setUp() {
    return {};
  },
  async listen(s, stack) {
    const { config, metrics } = s;
    const tls = await s.tls();
    // one login throttle for both listeners: failures on 587 count on 465 too
    const authThrottle = new AuthThrottle(config.smtpAuthFailuresPerMinute);
    const listeners = [
      [config.submissionPort, false, 'POSTLOG_SUBMISSION_PORT'],
      [config.submissionTlsPort, true, 'POSTLOG_SUBMISSION_TLS_PORT'],
    ] as const;
    const problems: string[] = [];
    for (const [port, implicitTls, setting] of listeners) {
      const server = createSubmissionServer(s.send, {
        host: config.smtpHost,
        port,
        implicitTls,
        tls,
        allowInsecureAuth: config.smtpAllowInsecureAuth,
        proxyFrom: config.smtpProxyFrom,
        maxRecipients: config.smtpMaxRecipients,
        maxMessagesPerConnection: config.smtpMaxMessagesPerConnection,
        authThrottle,
        logger: s.logger,
        onMessage: (outcome) =>
          metrics.smtpMessages.inc({ listener: implicitTls ? 'submission-tls' : 'submission', outcome }),
      });
      // the other listener is still tried: start-up reports every port that is taken at once
      const problem = await listenSmtp(server, config.smtpHost, port, setting).then(
        () => undefined,
        (err: unknown) => {
          if (err instanceof PortsUnavailable) return err;
          throw err;
        },
      );
      if (problem) problems.push(...problem.problems);
      // sessions in progress finish their transaction
      else stack.push(`SMTP submission on ${port}`, () => closeSmtp(server));
    }
    if (problems.length > 0) throw new PortsUnavailable(problems);
  },
};

/** Listens; a port that cannot be taken rejects with PortsUnavailable, saying what to change. */
export function listenSmtp(server: SMTPServer, host: string, port: number, setting: string): Promise<void> {
  const listener = { what: 'SMTP', host, port, portSetting: setting, hostSetting: 'POSTLOG_SMTP_HOST' } as const;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new PortsUnavailable([listenProblem(listener, err)])));
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      server.on('error', () => undefined); // per-connection errors are the client's business
      resolve();
    });
  });
}

export function closeSmtp(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
