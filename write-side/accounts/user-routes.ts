import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  CreateUser,
  Email,
  isGlobalAdmin,
  mayDo,
  OrgRole,
  UserSchema,
  visibleOrganizations,
} from '../../domain/index.js';
import { hashPassword, passwordProblem, publicUser } from '../../infra/accounts/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, NO_CONTENT, responses } from '../../infra/http/responses.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import type { AccountsDeps } from './accounts-deps.js';
import { openSessionFor } from './open-session.js';

export interface UserRouteDeps extends AccountsDeps {
  auth: Authenticator;
  tenancy: TenancyStore;
}

const Id = z.object({ id: z.uuid() });
const security: { [label: string]: string[] }[] = [{ adminToken: [] }, { session: [] }];
const CreatedUser = z.object({
  user: UserSchema,
  inviteUrl: z.string().nullable().describe('the invitation link, when no password was given (shown once)'),
  invitationSent: z.boolean().describe('whether the link was also mailed to the user (POSTLOG_ACCOUNT_MAIL_FROM)'),
});

/**
 * Users of the dashboard. A global admin manages every user; an organization's admin gives and
 * takes roles in its organization and invites people to it. A user created without a password
 * gets an invitation link to set one.
 */
export function userRoutes(deps: UserRouteDeps) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const auth = authenticate(deps.auth, ['admin']);
    const tags = ['users'];

    app.get('/v2/users', {
      preHandler: auth,
      schema: {
        tags,
        summary: 'Users (a global admin: all; an organization admin: those of its organizations)',
        security,
        response: responses({ 200: z.object({ users: z.array(UserSchema) }) }, [401, 403]),
      },
      handler: async (req) => {
        const actor = req.postlogActor!;
        const orgs = visibleOrganizations(actor, 'admin');
        const users =
          orgs === null ? await deps.users.list() : (await Promise.all(orgs.map((o) => deps.users.list(o)))).flat();
        const unique = [...new Map(users.map((u) => [u.id, u])).values()];
        return { users: unique.map(publicUser) };
      },
    });

    app.post('/v2/users', {
      preHandler: auth,
      schema: {
        tags,
        summary: 'Create a user with a password, or invite one by link (no password)',
        security,
        body: CreateUser,
        response: responses({ 201: CreatedUser }, [...FAILS.body, 401, 403, 404, 409]),
      },
      handler: async (req, reply) => {
        const actor = req.postlogActor!;
        const body = req.body;
        if (body.globalAdmin && !isGlobalAdmin(actor))
          return sendError(reply, 'FORBIDDEN', 'only a global admin can make a global admin');
        if (!isGlobalAdmin(actor) && !body.organizationId)
          return sendError(reply, 'VALIDATION_FAILED', 'name the organization the user joins', [
            { path: 'body.organizationId', message: 'is required' },
          ]);
        if (body.organizationId && !mayDo(actor, body.organizationId, 'admin'))
          return sendError(reply, 'FORBIDDEN', "only the organization's admins can add users to it");
        if (body.password !== undefined) {
          const problem = passwordProblem(body.password);
          if (problem)
            return sendError(reply, 'VALIDATION_FAILED', problem, [{ path: 'body.password', message: problem }]);
        }
        const created = await deps.users.create({
          email: body.email,
          passwordHash: body.password === undefined ? null : await hashPassword(body.password),
          globalAdmin: body.globalAdmin,
          membership:
            body.organizationId && body.role ? { organizationId: body.organizationId, role: body.role } : undefined,
        });
        if (!created.ok) return sendError(reply, created.error.code, created.error.message);
        const user = created.value;
        const inviteUrl =
          body.password === undefined ? await invitationLink(deps, user.id, user.email, actor.label) : null;
        const invitationSent = inviteUrl !== null && (await mailInvitation(deps, user.email, inviteUrl, req.id));
        deps.logger.info({ userId: user.id, email: user.email, by: actor.label, invitationSent }, 'user created');
        return reply.code(201).send({ user: publicUser(user), inviteUrl, invitationSent });
      },
    });

    app.put('/v2/users/:id/organizations/:organizationId', {
      preHandler: auth,
      schema: {
        tags,
        summary: "Give a user a role in an organization (or change it): the organization's admins",
        security,
        params: z.object({ id: z.uuid(), organizationId: z.uuid() }),
        body: z.object({ role: OrgRole }).strict(),
        response: responses({ 200: UserSchema }, [...FAILS.body, 401, 403, 404]),
      },
      handler: async (req, reply) => {
        const { id, organizationId } = req.params;
        if (!mayDo(req.postlogActor!, organizationId, 'admin'))
          return sendError(reply, 'FORBIDDEN', "only the organization's admins can give roles in it");
        const user = await deps.users.get(id);
        if (!user) return sendError(reply, 'NOT_FOUND', 'user not found');
        const set = await deps.users.setMembership(id, organizationId, req.body.role);
        if (!set.ok) return sendError(reply, set.error.code, set.error.message);
        deps.logger.info(
          { userId: id, organizationId, role: req.body.role, by: req.postlogActor!.label },
          'role given',
        );
        return publicUser((await deps.users.get(id))!);
      },
    });

    app.delete('/v2/users/:id/organizations/:organizationId', {
      preHandler: auth,
      schema: {
        tags,
        summary: "Take a user's role in an organization away",
        security,
        params: z.object({ id: z.uuid(), organizationId: z.uuid() }),
        response: responses({ 204: NO_CONTENT }, [...FAILS.invalid, 401, 403, 404]),
      },
      handler: async (req, reply) => {
        const { id, organizationId } = req.params;
        if (!mayDo(req.postlogActor!, organizationId, 'admin'))
          return sendError(reply, 'FORBIDDEN', "only the organization's admins can take roles in it");
        if (!(await deps.users.removeMembership(id, organizationId)))
          return sendError(reply, 'NOT_FOUND', 'the user has no role in this organization');
        return reply.code(204).send();
      },
    });

    app.post('/v2/users/:id/disable', {
      preHandler: auth,
      schema: {
        tags,
        summary: 'Disable a user: its sessions end and it cannot log in (a global admin)',
        security,
        params: Id,
        response: responses({ 204: NO_CONTENT }, [...FAILS.invalid, 401, 403, 404]),
      },
      handler: async (req, reply) => {
        if (!isGlobalAdmin(req.postlogActor!))
          return sendError(reply, 'FORBIDDEN', 'only a global admin can disable users');
        if (!(await deps.users.setDisabled(req.params.id, true)))
          return sendError(reply, 'NOT_FOUND', 'user not found');
        await deps.sessions.closeAll(req.params.id);
        return reply.code(204).send();
      },
    });

    app.post('/v2/invitations/accept', {
      schema: {
        tags: ['session'],
        summary: 'Accept an invitation: set the password and log in',
        body: z.object({ token: z.string().min(20).max(100), password: z.string().max(256) }).strict(),
        response: responses({ 200: z.object({ csrfToken: z.string() }) }, [...FAILS.body]),
      },
      handler: async (req, reply) => setPasswordByLink(deps, req, reply, 'invitation'),
    });

    app.post('/v2/password-reset', {
      schema: {
        tags: ['session'],
        summary: 'Mail a password-reset link (the answer is the same whether or not the address has an account)',
        body: z.object({ email: Email }).strict(),
        response: responses({ 202: z.object({ accepted: z.literal(true) }) }, [...FAILS.body, 429, 503]),
      },
      handler: async (req, reply) => {
        if (!deps.mailer)
          return sendError(
            reply,
            'ACCOUNT_MAIL_OFF',
            'password reset by email is not set up here (POSTLOG_ACCOUNT_MAIL_FROM): ask an administrator',
          );
        // every request counts as a failure of the address: nobody needs many resets a minute
        if (deps.loginThrottle.address.blocked(req.ip))
          return sendError(reply.header('retry-after', '60'), 'LOGIN_THROTTLED', 'too many requests; wait a minute');
        deps.loginThrottle.address.record(req.ip);
        const user = await deps.users.byEmail(req.body.email);
        if (user && !user.disabled) {
          const now = deps.now();
          const token = await deps.tokens.issue(
            {
              kind: 'password-reset',
              email: user.email,
              userId: user.id,
              organizationId: null,
              role: null,
              createdBy: `reset:${req.ip}`,
              expiresAt: new Date(now.getTime() + deps.linkHours * 3_600_000),
            },
            now,
          );
          const sent = await deps.mailer.send(
            user.email,
            'Reset your Postlog password',
            `Someone (hopefully you) asked to reset the password of ${user.email} at Postlog.\n\n` +
              `Choose a new one here (the link works once, for ${deps.linkHours} hours):\n${deps.linkBase}/reset?token=${token}\n\n` +
              'If you did not ask for it, ignore this message: your password stays as it is.\n',
            req.id,
          );
          if (!sent.ok) deps.logger.error({ code: sent.code, error: sent.message }, 'password-reset mail not sent');
          else deps.logger.info({ userId: user.id, messageId: sent.id }, 'password-reset mail sent');
        }
        return reply.code(202).send({ accepted: true });
      },
    });

    app.post('/v2/password-reset/confirm', {
      schema: {
        tags: ['session'],
        summary: 'Set a new password with a reset link, and log in (every other session ends)',
        body: z.object({ token: z.string().min(20).max(100), password: z.string().max(256) }).strict(),
        response: responses({ 200: z.object({ csrfToken: z.string() }) }, [...FAILS.body]),
      },
      handler: async (req, reply) => setPasswordByLink(deps, req, reply, 'password-reset'),
    });
  };
}

async function invitationLink(deps: AccountsDeps, userId: string, email: string, by: string): Promise<string> {
  const now = deps.now();
  const token = await deps.tokens.issue(
    {
      kind: 'invitation',
      email,
      userId,
      organizationId: null,
      role: null,
      createdBy: by,
      expiresAt: new Date(now.getTime() + deps.linkHours * 3_600_000),
    },
    now,
  );
  return `${deps.linkBase}/welcome?token=${token}`;
}

async function setPasswordByLink(
  deps: AccountsDeps,
  req: FastifyRequest<{ Body: { token: string; password: string } }>,
  reply: FastifyReply,
  kind: 'invitation' | 'password-reset',
) {
  const problem = passwordProblem(req.body.password);
  if (problem) return sendError(reply, 'VALIDATION_FAILED', problem, [{ path: 'body.password', message: problem }]);
  const used = await deps.tokens.consume(req.body.token, kind, deps.now());
  if (!used?.userId) return sendError(reply, 'INVALID_LINK', 'the link is unknown, used or expired');
  await deps.users.setPassword(used.userId, await hashPassword(req.body.password));
  await deps.sessions.closeAll(used.userId);
  deps.logger.info({ userId: used.userId, kind }, 'password set by link');
  const opened = await openSessionFor(deps, req, reply, used.userId);
  return { csrfToken: opened.csrfToken };
}

/** Mails an invitation link when account mail is set up; whether it went. */
async function mailInvitation(
  deps: AccountsDeps,
  email: string,
  link: string,
  correlationId: string,
): Promise<boolean> {
  if (!deps.mailer) return false;
  const sent = await deps.mailer.send(
    email,
    "You're invited to Postlog",
    `You have a Postlog account (${email}). Choose your password here (the link works once, for ${deps.linkHours} hours):\n${link}\n`,
    correlationId,
  );
  if (!sent.ok) deps.logger.error({ code: sent.code, error: sent.message }, 'invitation mail not sent');
  return sent.ok;
}
