import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OpenedSession } from '../../infra/accounts/index.js';
import { setSessionCookie } from '../../infra/http/session-cookie.js';
import type { AccountsDeps } from './accounts-deps.js';

/** A new session for the user, its cookie set on the reply. */
export async function openSessionFor(
  deps: AccountsDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  userId: string,
): Promise<OpenedSession> {
  const opened = await deps.sessions.open(userId, deps.now(), {
    ip: req.ip,
    ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
  });
  setSessionCookie(reply, opened.token, opened.expiresAt, deps.secureCookies);
  return opened;
}
