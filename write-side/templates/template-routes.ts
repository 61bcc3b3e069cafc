import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authenticate } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, NO_CONTENT, responses, type ErrorStatus } from '../../infra/http/responses.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import type { SendApiDeps } from '../send/send-deps.js';
import { sendTestMail } from '../send/test-send.js';
import type { MessageTemplate, TemplateStore } from '../../infra/templates/index.js';
import { checkTemplate, renderTemplate } from './render.js';

export interface TemplateRouteDeps extends SendApiDeps {
  templates: TemplateStore;
}

const security: { [label: string]: string[] }[] = [{ apiKey: [] }, { adminToken: [] }];
const Id = z.object({ id: z.uuid() });
const TemplateSchema = z.object({
  id: z.string(),
  serverId: z.string(),
  alias: z.string(),
  name: z.string(),
  currentVersion: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const Content = {
  subject: z.string().min(1).max(998).describe('Handlebars: {{name}}; not HTML, inserted as it is'),
  html: z.string().max(2_000_000).nullable().default(null).describe('Handlebars; {{value}} is HTML-escaped'),
  text: z.string().max(2_000_000).nullable().default(null),
};
const VersionSchema = z.object({
  templateId: z.string(),
  version: z.number(),
  subject: z.string(),
  html: z.string().nullable(),
  text: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
});
export const TemplateModel = z
  .record(z.string(), z.unknown())
  .default({})
  .describe('the values the template names ({{name}}, {{#each items}}…)');
const RenderedSchema = z.object({ subject: z.string(), html: z.string().nullable(), text: z.string().nullable() });
const base: ErrorStatus[] = [...FAILS.invalid, ...FAILS.apiKey, 403, 404];
const Alias = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, ".", "_" and "-"');

const by = (req: FastifyRequest) =>
  req.postlogServer ? `api-key:${req.postlogServer.id}` : (req.postlogActor?.label ?? 'unknown');

/**
 * Server-side templates (Handlebars), versioned: every change is a new version, and a message sent
 * with a template records the version it used (the MessageAccepted event), so the audit trail shows
 * exactly what was rendered. A server's API key manages its own; members and admins theirs.
 */
export function templateRoutes(deps: TemplateRouteDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.addHook('preHandler', authenticate(deps.auth, ['server', 'admin']));

    /** A template of a server the caller may read (GET) or change. */
    const visible = async (req: FastifyRequest, id: string): Promise<MessageTemplate | undefined> => {
      const template = await deps.templates.get(id);
      return template && (await serverScope(deps.tenancy, req, template.serverId)).ok ? template : undefined;
    };

    app.post('/v2/servers/:id/templates', {
      schema: {
        tags: ['templates'],
        summary: 'Create a template (version 1)',
        security,
        params: Id,
        body: z.object({ alias: Alias, name: z.string().min(1).max(200).optional(), ...Content }).strict(),
        response: responses({ 201: TemplateSchema }, [...base, ...FAILS.body, 409]),
      },
      handler: async (req, reply) => {
        const scope = await serverScope(deps.tenancy, req, req.params.id);
        if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
        const { alias, name, ...content } = req.body;
        const invalid = checkTemplate(content);
        if (invalid)
          return sendError(reply, 'TEMPLATE_INVALID', invalid.message, [
            { path: `body.${invalid.part}`, message: invalid.message },
          ]);
        const created = await deps.templates.create(req.params.id, alias, name ?? alias, content, by(req));
        if (created === 'taken') return sendError(reply, 'CONFLICT', `the server has a template ${alias} already`);
        return reply.code(201).send(created);
      },
    });

    app.get('/v2/servers/:id/templates', {
      schema: {
        tags: ['templates'],
        summary: "A server's templates",
        security,
        params: Id,
        response: responses({ 200: z.object({ templates: z.array(TemplateSchema) }) }, base),
      },
      handler: async (req, reply) => {
        const scope = await serverScope(deps.tenancy, req, req.params.id);
        if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
        return reply.send({ templates: await deps.templates.list(req.params.id) });
      },
    });

    app.get('/v2/templates/:id', {
      schema: {
        tags: ['templates'],
        summary: 'A template, its current version and the list of its versions',
        security,
        params: Id,
        response: responses(
          {
            200: TemplateSchema.extend({
              current: VersionSchema,
              versions: z.array(z.object({ version: z.number(), createdBy: z.string(), createdAt: z.string() })),
            }),
          },
          base,
        ),
      },
      handler: async (req, reply) => {
        const template = await visible(req, req.params.id);
        if (!template) return sendError(reply, 'NOT_FOUND', 'template not found');
        const [current, versions] = await Promise.all([
          deps.templates.version(template.id, template.currentVersion),
          deps.templates.versions(template.id),
        ]);
        return reply.send({
          ...template,
          current: current!,
          versions: versions.map(({ version, createdBy, createdAt }) => ({ version, createdBy, createdAt })),
        });
      },
    });

    app.get('/v2/templates/:id/versions/:version', {
      schema: {
        tags: ['templates'],
        summary: 'One version of a template, as it was written',
        security,
        params: z.object({ id: z.uuid(), version: z.coerce.number().int().min(1).max(1_000_000) }),
        response: responses({ 200: VersionSchema }, base),
      },
      handler: async (req, reply) => {
        const template = await visible(req, req.params.id);
        const version = template && (await deps.templates.version(template.id, req.params.version));
        if (!version) return sendError(reply, 'NOT_FOUND', 'no such template version');
        return reply.send(version);
      },
    });

    app.put('/v2/templates/:id', {
      schema: {
        tags: ['templates'],
        summary: 'Write a new version of a template (it becomes the current one)',
        security,
        params: Id,
        body: z.object({ name: z.string().min(1).max(200).optional(), ...Content }).strict(),
        response: responses({ 200: TemplateSchema }, [...base, ...FAILS.body]),
      },
      handler: async (req, reply) => {
        const template = await visible(req, req.params.id);
        if (!template) return sendError(reply, 'NOT_FOUND', 'template not found');
        const { name, ...content } = req.body;
        const invalid = checkTemplate(content);
        if (invalid)
          return sendError(reply, 'TEMPLATE_INVALID', invalid.message, [
            { path: `body.${invalid.part}`, message: invalid.message },
          ]);
        const updated = await deps.templates.update(template.id, content, by(req), name);
        if (!updated) return sendError(reply, 'NOT_FOUND', 'template not found');
        return reply.send(updated);
      },
    });

    app.delete('/v2/templates/:id', {
      schema: {
        tags: ['templates'],
        summary: 'Remove a template (messages sent with it keep their history)',
        security,
        params: Id,
        response: responses({ 204: NO_CONTENT }, base),
      },
      handler: async (req, reply) => {
        const template = await visible(req, req.params.id);
        if (!template) return sendError(reply, 'NOT_FOUND', 'template not found');
        await deps.templates.remove(template.id);
        return reply.code(204).send();
      },
    });

    app.post('/v2/templates/:id/preview', {
      schema: {
        tags: ['templates'],
        summary: 'Render a version (the current one by default) with sample data; nothing is sent',
        security,
        params: Id,
        body: z.object({ model: TemplateModel, version: z.number().int().min(1).max(1_000_000).optional() }).strict(),
        response: responses({ 200: RenderedSchema.extend({ version: z.number() }) }, [...base, ...FAILS.body, 422]),
      },
      handler: async (req, reply) => {
        const template = await visible(req, req.params.id);
        if (!template) return sendError(reply, 'NOT_FOUND', 'template not found');
        const number = req.body.version ?? template.currentVersion;
        const version = await deps.templates.version(template.id, number);
        if (!version) return sendError(reply, 'NOT_FOUND', `the template has no version ${number}`);
        const rendered = renderTemplate(version, req.body.model);
        if (!rendered.ok)
          return sendError(reply, rendered.error.code, rendered.error.message, [
            {
              path: rendered.error.variable ? `body.model.${rendered.error.variable}` : 'body.model',
              message: rendered.error.message,
            },
          ]);
        const { subject, html, text } = rendered.value;
        return reply.send({ version: number, subject, html: html ?? null, text: text ?? null });
      },
    });

    app.post('/v2/templates/:id/test-send', {
      schema: {
        tags: ['templates'],
        summary:
          "Send a version (the current one by default) rendered with a model to one address, from the server's first verified domain",
        security: [{ adminToken: [] }],
        params: Id,
        body: z
          .object({
            to: z.string().min(3).max(320),
            model: TemplateModel,
            version: z.number().int().min(1).max(1_000_000).optional(),
          })
          .strict(),
        response: responses({ 202: z.object({ id: z.string(), from: z.string(), to: z.string() }) }, [
          ...base,
          ...FAILS.body,
          422,
          503,
        ]),
      },
      handler: async (req, reply) => {
        if (!req.postlogActor)
          return sendError(reply, 'FORBIDDEN', 'a test send is made from the dashboard or with an admin token');
        const template = await visible(req, req.params.id);
        if (!template) return sendError(reply, 'NOT_FOUND', 'template not found');
        const number = req.body.version ?? template.currentVersion;
        const version = await deps.templates.version(template.id, number);
        if (!version) return sendError(reply, 'NOT_FOUND', `the template has no version ${number}`);
        const rendered = renderTemplate(version, req.body.model);
        if (!rendered.ok) return sendError(reply, rendered.error.code, rendered.error.message);
        return sendTestMail(deps, req, reply, template.serverId, {
          to: req.body.to,
          fromLocalPart: 'postlog-test',
          ...rendered.value,
          template: { id: template.id, alias: template.alias, version: number },
        });
      },
    });
  };
}
