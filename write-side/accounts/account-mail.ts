import { randomUUID } from 'node:crypto';
import { parseMailbox, parseRecipient, rfc5322Date } from '../../domain/index.js';
import { acceptMessages } from '../send/accept-messages.js';
import { composeMime } from '../send/compose.js';
import type { SendApiDeps } from '../send/send-deps.js';

export type AccountMailResult = { ok: true; id: number } | { ok: false; code: string; message: string };

/** Postlog's own mail to its users: password-reset links and invitations. */
export interface AccountMailer {
  send(to: string, subject: string, text: string, correlationId: string): Promise<AccountMailResult>;
}

/**
 * Account mail goes through Postlog itself: from POSTLOG_ACCOUNT_MAIL_FROM, by the server that has
 * that address's domain verified, through the same accept path, log and MTA as any message (so it
 * has a timeline too). Without the setting there is no mailer, and the links are handed out by
 * the CLI and the users API instead.
 */
export function accountMailer(deps: SendApiDeps, from: string | undefined): AccountMailer | undefined {
  if (!from) return undefined;
  return {
    async send(to, subject, text, correlationId) {
      const sender = parseMailbox(from);
      if (!sender.ok)
        return { ok: false, code: 'ACCOUNT_MAIL_OFF', message: `POSTLOG_ACCOUNT_MAIL_FROM: ${sender.error}` };
      const server = await deps.tenancy.serverSendingFrom(sender.value.domain);
      if (!server)
        return {
          ok: false,
          code: 'ACCOUNT_MAIL_OFF',
          message: `no server has ${sender.value.domain} (of POSTLOG_ACCOUNT_MAIL_FROM) as a verified domain`,
        };
      const recipient = parseRecipient(to, deps.recipients);
      if (!recipient.ok) return { ok: false, code: 'VALIDATION_FAILED', message: recipient.error };
      const now = deps.clock.now();
      const messageId = `${randomUUID()}@${deps.hostname}`;
      const raw = await composeMime({
        from: `Postlog <${sender.value.address}>`,
        to: [recipient.value.address],
        cc: [],
        subject,
        text,
        attachments: [],
        headers: {},
        messageId,
        date: now,
        received: `by ${deps.hostname} with HTTP; ${rfc5322Date(now)}`,
      });
      const accepted = await acceptMessages(deps, {
        server,
        from: sender.value,
        contents: [raw],
        messages: [{ to: recipient.value, content: 0, rfcMessageId: messageId, subject }],
        tag: 'postlog-account',
        source: 'api',
        correlationId,
        actor: 'postlog:accounts',
      });
      return accepted.ok
        ? { ok: true, id: accepted.value.messages[0]!.id }
        : { ok: false, code: accepted.error.code, message: accepted.error.message };
    },
  };
}
