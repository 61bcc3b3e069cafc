import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authenticate } from '../../infra/http/auth.js';
import { FAILS, responses } from '../../infra/http/responses.js';
import type { SendApiDeps } from './send-deps.js';
import { sendTestMail } from './test-send.js';

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
        const server = await deps.tenancy.getServer(req.postlogActor!, req.params.id);
        const name = server.ok ? server.value.name : '';
        const now = deps.clock.now();
        return sendTestMail(deps, req, reply, req.params.id, {
          to: req.body.to,
          fromLocalPart: req.body.fromLocalPart,
          subject: `Postlog test message (${name})`,
          text:
            `This is a test message from the Postlog server "${name}", sent at ${now.toISOString()}.\n` +
            'If it arrived, the way from Postlog to this mailbox works.\n',
        });
      },
    });
  };
}
