import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseMailbox, parseRecipient } from '../../domain/index.js';
import { authenticate } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, responses } from '../../infra/http/responses.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import { acceptMessages } from './accept-messages.js';
import { composeMime } from './compose.js';
import type { SendApiDeps } from './send-deps.js';

const TestMessage = z
  .object({
    to: z.string().min(3).max(320),
    /** The sender's local part; the domain is the server's first verified domain. */
    fromLocalPart: z
      .string()
      .regex(/^[A-Za-z0-9._+-]{1,64}$/)
      .default('postlog-test'),
  })
  .strict();

/**
 * "Send a test message" from the dashboard or an admin token: a short message from the server's
 * first verified domain to one address, through the same accept path as every other message, so
 * its timeline shows the whole way (accepted, queued, delivered or bounced). A member may send it.
 */
export function testMessageRoute(deps: SendApiDeps) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.post('/v2/servers/:id/test-message', {
      preHandler: authenticate(deps.auth, ['admin']),
      schema: {
        tags: ['messages'],
        summary: "Send a test message from the server's first verified domain",
        security: [{ adminToken: [] }],
        params: z.object({ id: z.uuid() }),
        body: TestMessage,
        response: responses({ 202: z.object({ id: z.string(), from: z.string(), to: z.string() }) }, [
          ...FAILS.body,
          401,
          403,
          404,
          422,
          503,
        ]),
      },
      handler: async (req, reply) => {
        const scope = await serverScope(deps.tenancy, req, req.params.id, 'member');
        if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
        const server = await deps.tenancy.getServer(req.postlogActor!, req.params.id);
        if (!server.ok) return sendError(reply, 'NOT_FOUND', 'server not found');
        const domains = await deps.tenancy.listDomains(req.postlogActor!, req.params.id);
        const domain = domains.ok ? domains.value.find((d) => d.verified) : undefined;
        if (!domain)
          return sendError(
            reply,
            'UNAUTHENTICATED_FROM_ADDRESS',
            'the server has no verified domain to send from: add one and publish its DNS records first',
          );
        const to = parseRecipient(req.body.to, deps.recipients);
        if (!to.ok)
          return sendError(reply, 'VALIDATION_FAILED', `to: ${to.error}`, [{ path: 'body.to', message: to.error }]);
        const from = parseMailbox(`${req.body.fromLocalPart}@${domain.name}`);
        if (!from.ok) return sendError(reply, 'VALIDATION_FAILED', `from: ${from.error}`);
        const now = deps.clock.now();
        const messageId = `${randomUUID()}@${deps.hostname}`;
        const subject = `Postlog test message (${server.value.name})`;
        const raw = await composeMime({
          from: from.value.address,
          to: [to.value.address],
          cc: [],
          subject,
          text:
            `This is a test message from the Postlog server "${server.value.name}", sent at ${now.toISOString()}.\n` +
            'If it arrived, the way from Postlog to this mailbox works.\n',
          attachments: [],
          headers: {},
          messageId,
          date: now,
          received: `from dashboard ([${req.ip}]) by ${deps.hostname} with HTTP; ${now.toUTCString()}`,
        });
        const result = await acceptMessages(deps, {
          server: server.value,
          from: from.value,
          contents: [raw],
          messages: [{ to: to.value, content: 0, rfcMessageId: messageId, subject }],
          tag: 'test',
          source: 'api',
          correlationId: req.id,
          actor: req.postlogActor!.label,
        });
        if (!result.ok) {
          const code = result.error.code === 'LOG_REJECTED' ? 'NOT_ACCEPTED' : result.error.code;
          return sendError(reply, code, result.error.message);
        }
        const accepted = result.value.messages[0]!;
        return reply.code(202).send({ id: String(accepted.id), from: from.value.address, to: to.value.address });
      },
    });
  };
}
