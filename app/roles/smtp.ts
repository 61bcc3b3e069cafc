import type { SMTPServer } from 'smtp-server';
import { AuthThrottle } from '../../write-side/smtp/auth-throttle.js';
import { createSubmissionServer } from '../../write-side/smtp/submission-server.js';
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
    for (const [port, implicitTls, setting] of listeners) {
      const server = createSubmissionServer(s.send, {
        host: config.smtpHost,
        port,
        implicitTls,
        tls,
        allowInsecureAuth: config.smtpAllowInsecureAuth,
        maxRecipients: config.smtpMaxRecipients,
        maxMessagesPerConnection: config.smtpMaxMessagesPerConnection,
        authThrottle,
        logger: s.logger,
        onMessage: (outcome) =>
          metrics.smtpMessages.inc({ listener: implicitTls ? 'submission-tls' : 'submission', outcome }),
      });
      await listenSmtp(server, config.smtpHost, port, setting);
      // sessions in progress finish their transaction
      stack.push(`SMTP submission on ${port}`, () => closeSmtp(server));
    }
  },
};

export function listenSmtp(server: SMTPServer, host: string, port: number, setting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`SMTP port ${port} is in use: set ${setting} to a free port`)
          : err.code === 'EACCES'
            ? new Error(
                `no permission to listen on port ${port}: use a port above 1023 or grant the capability (${setting})`,
              )
            : err,
      ),
    );
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
