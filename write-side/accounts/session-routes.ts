import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Login, Membership } from '../../domain/index.js';
import {
  hashPassword,
  newTotpSecret,
  passwordProblem,
  totpCodeValid,
  totpUri,
  verifyPassword,
} from '../../infra/accounts/index.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, NO_CONTENT, responses } from '../../infra/http/responses.js';
import type { AccountsDeps } from './accounts-deps.js';
import { clearSessionCookie, sessionTokenOf } from '../../infra/http/session-cookie.js';
import { openSessionFor } from './open-session.js';

const SessionView = z.object({
  user: z.object({ id: z.string(), email: z.string(), globalAdmin: z.boolean(), totpEnabled: z.boolean() }),
  memberships: z.array(Membership),
  csrfToken: z.string().describe('send it as X-CSRF-Token with every change made with this session'),
});
type SessionView = z.infer<typeof SessionView>;

async function view(deps: AccountsDeps, userId: string, csrfToken: string): Promise<SessionView | undefined> {
  const u = await deps.users.get(userId);
  if (!u) return undefined;
  return {
    user: { id: u.id, email: u.email, globalAdmin: u.globalAdmin, totpEnabled: u.totpEnabled },
    memberships: u.memberships,
    csrfToken,
  };
}

/** The session a request's cookie names, or an error answer sent (undefined). */
async function currentSession(deps: AccountsDeps, req: FastifyRequest, reply: FastifyReply) {
  const token = sessionTokenOf(req);
  const session = token ? await deps.sessions.resolve(token, deps.now()) : undefined;
  if (!token || !session) {
    sendError(reply, token ? 'SESSION_EXPIRED' : 'UNAUTHENTICATED', token ? 'the session ended' : 'not logged in');
    return undefined;
  }
  return { token, ...session };
}

/** A change made with a session must carry its CSRF token (a cross-site form cannot read it). */
function csrfOk(req: FastifyRequest, reply: FastifyReply, expected: string): boolean {
  if (req.headers['x-csrf-token'] === expected) return true;
  sendError(reply, 'CSRF_TOKEN_INVALID', "X-CSRF-Token is missing or is not this session's");
  return false;
}

/**
 * Dashboard sessions: log in (email, password, TOTP when enabled), who am I, log out, log out
 * everywhere, change the password. Failed logins are throttled per address and per account; the
 * answer to a wrong email and to a wrong password is the same, and takes as long.
 */
export function sessionRoutes(deps: AccountsDeps) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const tags = ['session'];

    app.get('/v2/session', {
      schema: {
        tags,
        summary: 'The logged-in user, their organizations and roles, and the CSRF token',
        response: responses({ 200: SessionView }, [401]),
      },
      handler: async (req, reply) => {
        const s = await currentSession(deps, req, reply);
        if (!s) return;
        const v = await view(deps, s.userId, s.csrfToken);
        return v ?? sendError(reply, 'SESSION_EXPIRED', 'the user is gone');
      },
    });

    app.post('/v2/session', {
      schema: {
        tags,
        summary: 'Log in: sets the session cookie',
        body: Login,
        response: responses({ 200: SessionView }, [...FAILS.body, 401, 429]),
      },
      handler: async (req, reply) => {
        const { email, password, totpCode } = req.body;
        const { address, account } = deps.loginThrottle;
        if (address.blocked(req.ip) || account.blocked(email)) {
          deps.logger.warn({ email, ip: req.ip }, 'login throttled');
          return sendError(
            reply.header('retry-after', '60'),
            'LOGIN_THROTTLED',
            'too many failed logins; wait a minute',
          );
        }
        const user = await deps.users.byEmail(email);
        const passwordOk = await verifyPassword(user?.passwordHash, password);
        if (!user || !passwordOk || user.disabled) {
          address.record(req.ip);
          account.record(email);
          deps.logger.info({ email, ip: req.ip }, 'login refused');
          return sendError(reply, 'INVALID_LOGIN', 'the email or password is wrong');
        }
        if (user.totpEnabled && user.totpSecret) {
          if (!totpCode) return sendError(reply, 'TOTP_REQUIRED', 'enter the code of your authenticator app');
          if (!(await totpCodeValid(user.totpSecret, totpCode, deps.now()))) {
            address.record(req.ip);
            account.record(email);
            return sendError(reply, 'INVALID_LOGIN', 'the authentication code is wrong');
          }
        }
        const opened = await openSessionFor(deps, req, reply, user.id);
        deps.logger.info({ userId: user.id, email, ip: req.ip }, 'logged in');
        return (await view(deps, user.id, opened.csrfToken))!;
      },
    });

    app.delete('/v2/session', {
      schema: { tags, summary: 'Log out', response: responses({ 204: NO_CONTENT }, [401, 403]) },
      handler: async (req, reply) => {
        const s = await currentSession(deps, req, reply);
        if (!s || !csrfOk(req, reply, s.csrfToken)) return;
        await deps.sessions.close(s.token);
        clearSessionCookie(reply, deps.secureCookies);
        return reply.code(204).send();
      },
    });

    app.post('/v2/session/logout-everywhere', {
      schema: {
        tags,
        summary: 'End every session of the logged-in user (this one too)',
        response: responses({ 204: NO_CONTENT }, [401, 403]),
      },
      handler: async (req, reply) => {
        const s = await currentSession(deps, req, reply);
        if (!s || !csrfOk(req, reply, s.csrfToken)) return;
        const ended = await deps.sessions.closeAll(s.userId);
        deps.logger.info({ userId: s.userId, ended }, 'logged out everywhere');
        clearSessionCookie(reply, deps.secureCookies);
        return reply.code(204).send();
      },
    });

    app.post('/v2/session/password', {
      schema: {
        tags,
        summary: "Change the logged-in user's password (ends their other sessions)",
        body: z.object({ currentPassword: z.string().max(256), newPassword: z.string().max(256) }).strict(),
        response: responses({ 200: SessionView }, [...FAILS.body, 401, 403]),
      },
      handler: async (req, reply) => {
        const s = await currentSession(deps, req, reply);
        if (!s || !csrfOk(req, reply, s.csrfToken)) return;
        const user = await deps.users.get(s.userId);
        if (!user || !(await verifyPassword(user.passwordHash, req.body.currentPassword)))
          return sendError(reply, 'INVALID_LOGIN', 'the current password is wrong');
        const problem = passwordProblem(req.body.newPassword);
        if (problem)
          return sendError(reply, 'VALIDATION_FAILED', problem, [{ path: 'body.newPassword', message: problem }]);
        await deps.users.setPassword(user.id, await hashPassword(req.body.newPassword));
        await deps.sessions.closeAll(user.id);
        const opened = await openSessionFor(deps, req, reply, user.id);
        deps.logger.info({ userId: user.id }, 'password changed');
        return (await view(deps, user.id, opened.csrfToken))!;
      },
    });

    app.post('/v2/session/totp/setup', {
      schema: {
        tags,
        summary: 'Start a second factor: a new TOTP secret and its otpauth:// URI for an authenticator app',
        response: responses({ 200: z.object({ secret: z.string(), uri: z.string() }) }, [401, 403, 409]),
      },
      handler: async (req, reply) => {
        const s = await currentSession(deps, req, reply);
        if (!s || !csrfOk(req, reply, s.csrfToken)) return;
        const user = await deps.users.get(s.userId);
        if (!user) return sendError(reply, 'SESSION_EXPIRED', 'the user is gone');
        if (user.totpEnabled) return sendError(reply, 'CONFLICT', 'a second factor is on already: turn it off first');
        const secret = newTotpSecret();
        // kept, not yet on: enabling proves the app has it
        await deps.users.setTotp(user.id, secret, false);
        return { secret, uri: totpUri(secret, user.email) };
      },
    });

    app.post('/v2/session/totp/enable', {
      schema: {
        tags,
        summary: 'Turn the second factor on with a code from the authenticator app',
        body: z.object({ code: z.string().max(10) }).strict(),
        response: responses({ 204: NO_CONTENT }, [...FAILS.body, 401, 403]),
      },
      handler: async (req, reply) => {
        const s = await currentSession(deps, req, reply);
        if (!s || !csrfOk(req, reply, s.csrfToken)) return;
        const user = await deps.users.get(s.userId);
        if (!user?.totpSecret) return sendError(reply, 'INVALID_COMMAND', 'start with POST /v2/session/totp/setup');
        if (!(await totpCodeValid(user.totpSecret, req.body.code, deps.now())))
          return sendError(reply, 'VALIDATION_FAILED', 'the code is wrong or too old', [
            { path: 'body.code', message: 'does not match' },
          ]);
        await deps.users.setTotp(user.id, user.totpSecret, true);
        deps.logger.info({ userId: user.id }, 'second factor on');
        return reply.code(204).send();
      },
    });

    app.post('/v2/session/totp/disable', {
      schema: {
        tags,
        summary: 'Turn the second factor off (needs the password)',
        body: z.object({ password: z.string().max(256) }).strict(),
        response: responses({ 204: NO_CONTENT }, [...FAILS.body, 401, 403]),
      },
      handler: async (req, reply) => {
        const s = await currentSession(deps, req, reply);
        if (!s || !csrfOk(req, reply, s.csrfToken)) return;
        const user = await deps.users.get(s.userId);
        if (!user || !(await verifyPassword(user.passwordHash, req.body.password)))
          return sendError(reply, 'INVALID_LOGIN', 'the password is wrong');
        await deps.users.setTotp(user.id, null, false);
        deps.logger.info({ userId: user.id }, 'second factor off');
        return reply.code(204).send();
      },
    });
  };
}
