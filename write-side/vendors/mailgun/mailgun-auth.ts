import type { FastifyRequest } from 'fastify';
import type { Server } from '../../../domain/index.js';
import type { Authenticator } from '../../../infra/http/auth.js';
import type { TenancyStore } from '../../../infra/tenancy/index.js';
import { mailgunFailure, type MailgunFailure } from './mailgun-errors.js';

/** Mailgun's credentials: HTTP Basic with the user `api` and the key as the password (a Postlog server API key). */
function basicApiKey(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  const encoded = typeof header === 'string' ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)?.[1] : undefined;
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0 || decoded.slice(0, colon) !== 'api') return undefined;
  return decoded.slice(colon + 1) || undefined;
}

/** The server whose API key the request carries, if it may send. */
export async function mailgunServer(auth: Authenticator, req: FastifyRequest): Promise<Server | MailgunFailure> {
  const key = basicApiKey(req);
  if (!key) return mailgunFailure('UNAUTHENTICATED', 'Forbidden');
  const server = await auth.server(key);
  if (!server) return mailgunFailure('INVALID_API_KEY', 'Forbidden');
  if (server.suspended)
    return mailgunFailure(
      'SERVER_SUSPENDED',
      `the server is suspended${server.suspendedReason ? `: ${server.suspendedReason}` : ''}`,
    );
  return server;
}

/** The `{domain}` of the path must be a verified sending domain of the key's server: Mailgun's 404 otherwise. */
export async function checkDomain(
  tenancy: TenancyStore,
  server: Server,
  domain: string,
): Promise<MailgunFailure | undefined> {
  const found = await tenancy.sendingDomain(server.id, domain.toLowerCase());
  return found?.verified ? undefined : mailgunFailure('NOT_FOUND', `Domain not found: ${domain}`);
}
