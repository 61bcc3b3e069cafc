import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { OidcAttempt, OidcLogin } from '../../infra/accounts/index.js';
import { responses } from '../../infra/http/responses.js';
import type { AccountsDeps } from './accounts-deps.js';
import { openSessionFor } from './open-session.js';

const ATTEMPT_COOKIE = 'postlog_oidc';
const ATTEMPT_PATH = '/v2/session/oidc';

export interface OidcRouteDeps extends AccountsDeps {
  /** Undefined when no provider is configured (POSTLOG_OIDC_ISSUER). */
  oidc: OidcLogin | undefined;
  /** The provider's name on the login page. */
  oidcName: string;
  redirectUri: string;
}

const Attempt = z.object({ state: z.string(), nonce: z.string(), codeVerifier: z.string() });

/** Back to the login page with a code it shows (the page reads `?error=`). */
const toLogin = (reply: FastifyReply, code: string) => reply.redirect(`/login?error=${code}`, 302);

/**
 * Login with an OpenID Connect provider (Keycloak, Google, Entra ID, Authentik…): the browser goes
 * to the provider and comes back with a code that is exchanged for an ID token. The provider's
 * user is matched to a Postlog user by a link made at an earlier login, or by a verified email;
 * nobody gets an account by logging in (an administrator invites people first).
 */
export function oidcRoutes(deps: OidcRouteDeps) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const tags = ['session'];

    app.get('/v2/session/methods', {
      schema: {
        tags,
        summary: 'How users can log in here: password, and single sign-on when a provider is configured',
        response: responses({ 200: z.object({ password: z.literal(true), oidc: z.string().nullable() }) }, []),
      },
      handler: async () => ({ password: true as const, oidc: deps.oidc ? deps.oidcName : null }),
    });

    if (!deps.oidc) return;
    const oidc = deps.oidc;

    app.get(
      `${ATTEMPT_PATH}/start`,
      { schema: { tags, summary: 'Go to the OpenID Connect provider', hide: true } },
      async (_req, reply) => {
        try {
          const { url, attempt } = await oidc.start();
          // Lax: the provider's redirect back is a top-level GET, which carries it
          reply.setCookie(ATTEMPT_COOKIE, Buffer.from(JSON.stringify(attempt)).toString('base64url'), {
            httpOnly: true,
            sameSite: 'lax',
            secure: deps.secureCookies,
            path: ATTEMPT_PATH,
            maxAge: 600,
          });
          return reply.redirect(url, 302);
        } catch (err) {
          deps.logger.error({ error: (err as Error).message }, 'OpenID Connect provider unreachable');
          return toLogin(reply, 'OIDC_UNAVAILABLE');
        }
      },
    );

    app.get(
      `${ATTEMPT_PATH}/callback`,
      { schema: { tags, summary: 'Back from the provider', hide: true } },
      async (req, reply) => {
        const raw = req.cookies[ATTEMPT_COOKIE];
        reply.clearCookie(ATTEMPT_COOKIE, { path: ATTEMPT_PATH });
        let attempt: OidcAttempt;
        try {
          attempt = Attempt.parse(JSON.parse(Buffer.from(raw ?? '', 'base64url').toString()));
        } catch {
          return toLogin(reply, 'OIDC_FAILED');
        }
        const callback = new URL(deps.redirectUri);
        callback.search = new URL(req.url, 'http://x').search;
        let identity: Awaited<ReturnType<OidcLogin['finish']>>;
        try {
          identity = await oidc.finish(callback, attempt);
        } catch (err) {
          deps.logger.warn({ error: (err as Error).message }, 'OpenID Connect login refused');
          return toLogin(reply, 'OIDC_FAILED');
        }
        let user = await deps.users.byOidcSubject(identity.issuer, identity.subject);
        if (!user && identity.email && identity.emailVerified) {
          user = await deps.users.byEmail(identity.email);
          if (user) await deps.users.linkOidc(user.id, identity.issuer, identity.subject);
        }
        if (!user || user.disabled) {
          deps.logger.info(
            { email: identity.email, subject: identity.subject },
            'OpenID Connect login without an account',
          );
          return toLogin(reply, 'OIDC_NO_ACCOUNT');
        }
        await openSessionFor(deps, req, reply, user.id);
        deps.logger.info({ userId: user.id, issuer: identity.issuer }, 'logged in with OpenID Connect');
        return reply.redirect('/', 302);
      },
    );
  };
}
