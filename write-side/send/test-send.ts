import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseMailbox, parseRecipient, rfc5322Date } from '../../domain/index.js';
import { sendError } from '../../infra/http/errors.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import { acceptMessages, type MessageToAccept } from './accept-messages.js';
import { composeMime } from './compose.js';
import { virusFields } from './outbound-virus-check.js';
import type { SendApiDeps } from './send-deps.js';

export interface TestMail {
  to: string;
  fromLocalPart: string;
  subject: string;
  text?: string | undefined;
  html?: string | undefined;
  template?: MessageToAccept['template'];
}

/**
 * A test message from a server's first verified domain to one address, sent by a member or admin
 * from the dashboard (a test message, a template's test-send), through the same accept path as
 * every other message, so its timeline shows the whole way. Answers the request itself.
 */
export async function sendTestMail(
  deps: SendApiDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  serverId: string,
  mail: TestMail,
) {
  const scope = await serverScope(deps.tenancy, req, serverId, 'member');
  if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
  const server = await deps.tenancy.getServer(req.postlogActor!, serverId);
  if (!server.ok) return sendError(reply, 'NOT_FOUND', 'server not found');
  const domains = await deps.tenancy.listDomains(req.postlogActor!, serverId);
  const domain = domains.ok ? domains.value.find((d) => d.verified) : undefined;
  if (!domain)
    return sendError(
      reply,
      'UNAUTHENTICATED_FROM_ADDRESS',
      'the server has no verified domain to send from: add one and publish its DNS records first',
    );
  const to = parseRecipient(mail.to, deps.recipients);
  if (!to.ok) return sendError(reply, 'VALIDATION_FAILED', `to: ${to.error}`, [{ path: 'body.to', message: to.error }]);
  const from = parseMailbox(`${mail.fromLocalPart}@${domain.name}`);
  if (!from.ok) return sendError(reply, 'VALIDATION_FAILED', `from: ${from.error}`);
  const now = deps.clock.now();
  const messageId = `${randomUUID()}@${deps.hostname}`;
  const raw = await composeMime({
    from: from.value.address,
    to: [to.value.address],
    cc: [],
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    attachments: [],
    headers: {},
    messageId,
    date: now,
    received: `from dashboard ([${req.ip}]) by ${deps.hostname} with HTTP; ${rfc5322Date(now)}`,
  });
  const result = await acceptMessages(deps, {
    server: server.value,
    from: from.value,
    contents: [raw],
    messages: [
      {
        to: to.value,
        content: 0,
        rfcMessageId: messageId,
        subject: mail.subject,
        ...(mail.template ? { template: mail.template } : {}),
      },
    ],
    tag: 'test',
    source: 'api',
    correlationId: req.id,
    actor: req.postlogActor!.label,
  });
  if (!result.ok) {
    const code = result.error.code === 'LOG_REJECTED' ? 'NOT_ACCEPTED' : result.error.code;
    const fields = result.error.code === 'VIRUS_FOUND' ? virusFields(result.error.virus) : undefined;
    return sendError(reply, code, result.error.message, fields);
  }
  const accepted = result.value.messages[0]!;
  return reply.code(202).send({ id: String(accepted.id), from: from.value.address, to: to.value.address });
}
