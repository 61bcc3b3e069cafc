import PostalMime from 'postal-mime';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authenticate } from '../infra/http/auth.js';
import { sendError } from '../infra/http/errors.js';
import { FAILS, responses, type ErrorStatus } from '../infra/http/responses.js';
import { loadMessageView, type MessageView } from './message-view.js';
import type { ReadApiDeps } from './read-deps.js';
import { MessageHistorySchema, MessageViewSchema } from './v2-schemas.js';

/** An invalid id (400), a key or token (401), a suspended server (403), a message it may not see (404). */
const fails: ErrorStatus[] = [...FAILS.invalid, ...FAILS.apiKey, 404];
const Params = z.object({ id: z.string().regex(/^\d{1,18}$/, 'message ids are numbers') });

/** May the caller see this message? Its server's API key, or an admin of its organization. */
async function mayRead(deps: ReadApiDeps, req: FastifyRequest, view: MessageView): Promise<boolean> {
  if (req.postlogServer) return req.postlogServer.id === view.serverId;
  if (req.postlogActor) return (await deps.tenancy.getServer(req.postlogActor, view.serverId)).ok;
  return false;
}

export function v2MessageRoutes(deps: ReadApiDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    const auth = authenticate(deps.auth, ['server', 'admin']);

    app.get('/v2/messages/:id', {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'A message: status, timestamps and delivery attempts',
        security: [{ apiKey: [] }, { adminToken: [] }],
        params: Params,
        response: responses({ 200: MessageViewSchema }, fails),
      },
      handler: async (req, reply) => {
        const view = await loadMessageView(deps.eventStore, req.params.id);
        if (!view || !(await mayRead(deps, req, view)))
          return sendError(reply, 'MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
        const { events: _events, contentHash: _hash, ...rest } = view;
        return reply.send(rest);
      },
    });

    app.get('/v2/messages/:id/history', {
      preHandler: auth,
      schema: {
        tags: ['audit'],
        summary: "The message's complete event history, read from the log",
        security: [{ apiKey: [] }, { adminToken: [] }],
        params: Params,
        response: responses({ 200: MessageHistorySchema }, fails),
      },
      handler: async (req, reply) => {
        const view = await loadMessageView(deps.eventStore, req.params.id);
        if (!view || !(await mayRead(deps, req, view)))
          return sendError(reply, 'MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
        return reply.send({
          id: view.id,
          stream: view.stream,
          events: view.events.map((e) => ({
            eventId: e.eventId,
            revision: e.revision,
            position: e.position,
            recordedAt: e.recordedAt.toISOString(),
            type: e.type,
            schemaVersion: e.schemaVersion,
            data: e.data,
            metadata: e.metadata,
          })),
        });
      },
    });

    /** The message's bytes, if the caller may read it and retention has not removed them (else the answer is sent). */
    const readableContent = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const view = await loadMessageView(deps.eventStore, req.params.id);
      if (!view || !(await mayRead(deps, req, view))) {
        sendError(reply, 'MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
        return undefined;
      }
      const raw = await deps.contents.get(view.contentHash);
      if (!raw) {
        sendError(
          reply,
          'CONTENT_EXPIRED',
          'the message content was removed after the retention period; its history remains',
        );
        return undefined;
      }
      return { view, raw };
    };

    app.get('/v2/messages/:id/raw', {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'The raw MIME as accepted (message/rfc822)',
        security: [{ apiKey: [] }, { adminToken: [] }],
        params: Params,
        // 410: the content is gone after the retention period (the history stays)
        response: responses(
          { 200: { description: 'the message as accepted', content: { 'message/rfc822': { schema: z.string() } } } },
          [...fails, 410],
        ),
      },
      handler: async (req, reply) => {
        const content = await readableContent(req, reply);
        if (!content) return;
        const { view, raw } = content;
        return reply
          .type('message/rfc822')
          .header('content-disposition', `attachment; filename="message-${view.id}.eml"`)
          .send(raw as unknown as string); // bytes, sent as they are (the document says: a string of message/rfc822)
      },
    });

    app.get('/v2/messages/:id/content', {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'The message as a person reads it: its headers, the text part and the HTML part (parsed)',
        security: [{ apiKey: [] }, { adminToken: [] }],
        params: Params,
        response: responses(
          {
            200: z.object({
              headers: z.array(z.object({ name: z.string(), value: z.string() })),
              text: z.string().nullable(),
              html: z.string().nullable(),
              attachments: z.array(
                z.object({ filename: z.string().nullable(), mimeType: z.string(), size: z.number() }),
              ),
            }),
          },
          [...fails, 410],
        ),
      },
      handler: async (req, reply) => {
        const content = await readableContent(req, reply);
        if (!content) return;
        const email = await PostalMime.parse(content.raw, { attachmentEncoding: 'arraybuffer' });
        return {
          headers: email.headers.map((h) => ({ name: h.originalKey ?? h.key, value: h.value })),
          text: email.text ?? null,
          html: email.html ?? null,
          attachments: email.attachments.map((a) => ({
            filename: a.filename ?? null,
            mimeType: a.mimeType,
            size: typeof a.content === 'string' ? a.content.length : a.content.byteLength,
          })),
        };
      },
    });
  };
}
