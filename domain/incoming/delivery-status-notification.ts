import { rfc5322Date } from '../values/mail-date.js';

/** What a DSN says of one recipient a message could not reach, and whom it is from and to. */
export interface DeliveryFailureNotice {
  /** Postlog's host name: the Reporting-MTA. */
  reportingMta: string;
  /** The postmaster address it comes from. */
  from: string;
  /** The envelope sender of the message that failed (never empty: nobody answers a null sender). */
  to: string;
  /** The recipient that failed, and the reply it got (as the SMTP session would have answered it). */
  recipient: string;
  reply: { code: number; status: string; text: string };
  /** When the message arrived, and when this notice is written. */
  arrivedAt: Date;
  now: Date;
  /** The notice's own Message-ID (without angle brackets) and MIME boundary. */
  messageId: string;
  boundary: string;
  /** The failed message's header section, returned instead of the whole message (no backscatter of its body). */
  originalHeaders: Buffer;
}

export const DSN_SUBJECT = 'Mail delivery failed: returning message to sender';

/** The header lines as received, each cut to 998 bytes: the notice goes out through the accept path's rules. */
function returnedHeaders(headers: Buffer): string {
  return headers
    .toString('latin1')
    .split('\r\n')
    .filter((l) => l !== '')
    .map((l) => l.slice(0, 998))
    .join('\r\n');
}

/**
 * A delivery status notification (RFC 3464): multipart/report of a human-readable part, the
 * message/delivery-status part (per-message, then per-recipient fields) and the returned message's
 * headers (text/rfc822-headers). Auto-Submitted: auto-replied (RFC 3834), so that nothing answers it.
 */
export function deliveryFailureNotification(n: DeliveryFailureNotice): Buffer {
  const diagnostic = `${n.reply.code} ${n.reply.status} ${n.reply.text}`;
  const lines = [
    `From: Mail Delivery System <${n.from}>`,
    `To: <${n.to}>`,
    `Subject: ${DSN_SUBJECT}`,
    `Date: ${rfc5322Date(n.now)}`,
    `Message-ID: <${n.messageId}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${n.boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${n.boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `This is the mail system at ${n.reportingMta}.`,
    '',
    'Your message could not be delivered to this recipient:',
    '',
    `  <${n.recipient}>: ${diagnostic}`,
    '',
    'The headers of your message are returned below.',
    '',
    `--${n.boundary}`,
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${n.reportingMta}`,
    `Arrival-Date: ${rfc5322Date(n.arrivedAt)}`,
    '',
    `Final-Recipient: rfc822; ${n.recipient}`,
    'Action: failed',
    `Status: ${n.reply.status}`,
    `Diagnostic-Code: smtp; ${diagnostic}`,
    `Last-Attempt-Date: ${rfc5322Date(n.now)}`,
    '',
    `--${n.boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    '',
  ];
  // the returned headers are the received bytes (read as latin1: one character a byte), the rest is UTF-8
  return Buffer.concat([
    Buffer.from(lines.join('\r\n'), 'utf8'),
    Buffer.from(returnedHeaders(n.originalHeaders), 'latin1'),
    Buffer.from(`\r\n\r\n--${n.boundary}--\r\n`, 'utf8'),
  ]);
}
