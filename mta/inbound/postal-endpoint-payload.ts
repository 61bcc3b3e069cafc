import PostalMime from 'postal-mime';
import type { IncomingReceived, ScanResult } from '../../domain/index.js';
import type { z } from 'zod';

type Received = z.infer<typeof IncomingReceived>;

const QUOTED_REPLY_START = [
  /^On .{1,300} wrote:\s*$/m,
  /^-{2,} ?Original Message ?-{2,}\s*$/im,
  /^From: .+\r?\n(?:Sent|Date): /m,
  /^_{10,}\s*$/m,
];

/** The plain body without the reply quoted below it (Postal's "strip replies"). */
export function withoutQuotedReply(text: string): string {
  let end = text.length;
  for (const pattern of QUOTED_REPLY_START) {
    const m = pattern.exec(text);
    if (m && m.index < end) end = m.index;
  }
  // trailing "> quoted" lines
  return text
    .slice(0, end)
    .replace(/(?:^>.*(?:\r?\n|$))+$/m, '')
    .trimEnd();
}

/** The message with the headers we add toward endpoints in front: authentication results, spam verdict. */
export function withArrivalHeaders(raw: Buffer, received: Received): Buffer {
  const lines: string[] = [];
  if (received.authentication?.header) lines.push(`Authentication-Results: ${received.authentication.header}`);
  const scan: ScanResult | undefined = received.scan;
  if (scan && scan.spamStatus !== 'NotChecked')
    lines.push(
      `X-Postlog-Spam: ${scan.spamStatus === 'Spam' ? 'yes' : 'no'}; score=${scan.spamScore ?? 0}; threshold=${scan.spamThreshold ?? 0}`,
    );
  return lines.length === 0 ? raw : Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'), raw]);
}

export interface PayloadOptions {
  includeAttachments: boolean;
  stripReplies: boolean;
}

/**
 * Postal's HTTP endpoint payload ("Hash" format) for an incoming message: the fields Postal's
 * endpoints read (token, spam_status, bounce, received_with_ssl, reply_to, reply_plain_body…).
 */
export async function postalPayload(
  id: number,
  received: Received,
  raw: Buffer,
  o: PayloadOptions,
): Promise<Record<string, unknown>> {
  const email = await PostalMime.parse(raw, { attachmentEncoding: 'base64' });
  const header = (name: string) => email.headers.find((h) => h.key === name)?.value ?? null;
  const mailbox = (a: { name?: string; address?: string }) =>
    a.address ? (a.name ? `${a.name} <${a.address}>` : a.address) : (a.name ?? '');
  const list = (addresses: typeof email.to) =>
    (addresses ?? []).map((a) => ('address' in a ? mailbox(a) : a.name)).join(', ') || null;
  const plain = email.text ?? null;
  const stripped = plain === null ? null : withoutQuotedReply(plain);
  const contentType = (header('content-type') ?? '').toLowerCase();
  return {
    id,
    rcpt_to: received.rcptTo,
    mail_from: received.mailFrom,
    token: received.token,
    subject: email.subject ?? null,
    message_id: email.messageId?.replace(/^<|>$/g, '') ?? null,
    timestamp: Date.parse(received.at) / 1000,
    size: String(raw.length),
    spam_status: received.scan?.spamStatus ?? 'NotChecked',
    spam_score: received.scan?.spamScore ?? null,
    bounce: received.mailFrom === '' || contentType.includes('report-type=delivery-status'),
    received_with_ssl: received.tls,
    to: list(email.to),
    cc: list(email.cc),
    from: email.from ? mailbox(email.from as { name?: string; address?: string }) : null,
    date: email.date ?? null,
    in_reply_to: email.inReplyTo ?? null,
    references: email.references ?? null,
    reply_to: list(email.replyTo),
    auto_submitted: header('auto-submitted'),
    authentication_results: received.authentication?.header ?? null,
    plain_body: o.stripReplies ? stripped : plain,
    reply_plain_body: stripped,
    html_body: email.html ?? null,
    attachment_quantity: email.attachments.length,
    attachments: o.includeAttachments
      ? email.attachments.map((a) => ({
          filename: a.filename,
          content_type: a.mimeType,
          size: Buffer.from(String(a.content), 'base64').length,
          data: a.content,
        }))
      : [],
  };
}

/** Postal's raw format: the whole message, base64. */
export function rawPayload(id: number, received: Received, raw: Buffer): Record<string, unknown> {
  return {
    id,
    rcpt_to: received.rcptTo,
    mail_from: received.mailFrom,
    token: received.token,
    message: raw.toString('base64'),
    base64: true,
    size: raw.length,
  };
}

/** A payload as a form (Postal's FormData encoding): nested keys as `attachments[0][filename]`. */
export function formEncoded(payload: Record<string, unknown>): string {
  const pairs: [string, string][] = [];
  const walk = (key: string, value: unknown) => {
    if (value === null || value === undefined) pairs.push([key, '']);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(`${key}[${i}]`, v));
    else if (typeof value === 'object')
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(`${key}[${k}]`, v);
    else pairs.push([key, String(value)]);
  };
  for (const [k, v] of Object.entries(payload)) walk(k, v);
  return new URLSearchParams(pairs).toString();
}
