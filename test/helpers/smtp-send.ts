import SMTPConnection from 'nodemailer/lib/smtp-connection';

/** Hands a raw message to an SMTP server on loopback, as a remote MTA would (plain text, no AUTH). */
export async function smtpSend(
  port: number,
  from: string,
  to: string,
  raw: string,
): Promise<{ code: number; response: string }> {
  const c = new SMTPConnection({
    host: '127.0.0.1',
    port,
    ignoreTLS: true,
    allowInternalNetworkInterfaces: true,
    logger: false,
  });
  await new Promise<void>((res, rej) => {
    c.once('error', rej);
    c.connect(() => res());
  });
  try {
    return await new Promise((resolve) =>
      c.send({ from, to: [to] }, raw, (err, info) => {
        const e = err as (Error & { responseCode?: number; response?: string }) | null;
        resolve(
          e ? { code: e.responseCode ?? 0, response: e.response ?? e.message } : { code: 250, response: info.response },
        );
      }),
    );
  } finally {
    c.quit();
  }
}

/** An ARF (RFC 5965) abuse report of a delivered message, carrying its headers as a mailbox provider's FBL does. */
export function arfComplaint(deliveredHeaders: string): string {
  return [
    'From: fbl@isp.example',
    'To: fbl@postlog.test',
    'Subject: FW: complaint',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"',
    '',
    '--ARF',
    'Content-Type: text/plain',
    '',
    'This is an email abuse report.',
    '',
    '--ARF',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: ISP-FBL/2.0',
    'Version: 1',
    '',
    '--ARF',
    'Content-Type: text/rfc822-headers',
    '',
    deliveredHeaders,
    '',
    '--ARF--',
    '',
  ].join('\r\n');
}
