import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';

/**
 * One Content-Security-Policy for every answer: JSON needs none of it, and it is what the API docs
 * (/docs, swagger-ui: its own scripts and styles, images as data: URIs) and the unsubscribe page (a
 * form posting to itself) need. Nobody may frame a Postlog page (clickjacking the unsubscribe
 * button). Not `upgrade-insecure-requests`: on a plain-HTTP install (loopback, a private network)
 * it would send /docs's own scripts to an https:// that does not exist.
 */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  upgradeInsecureRequests: null,
};

/**
 * HSTS for a year, for this host only: not includeSubDomains (helmet's default), which would force
 * HTTPS on every sibling of a public URL such as https://example.com for a year.
 */
export const HSTS = 'max-age=31536000';

export interface SecurityHeaderOptions {
  /**
   * Browsers reach Postlog over HTTPS (its public URL is https://, behind a TLS proxy): then every
   * answer carries HSTS. Otherwise only answers on a TLS connection do (RFC 6797 §7.2: never over
   * plain HTTP).
   */
  servedOverHttps: boolean;
}

/**
 * Security headers on every answer (helmet): CSP, nosniff, no framing, no Referer, and HSTS when
 * served over HTTPS. Register before the routes: they are set in an onRequest hook, and a route
 * that needs another value (the tracking pixel, loaded cross-origin by webmail) overrides its own.
 *
 * helmet's headers depend on its options only, so they are worked out once, here. (@fastify/helmet
 * builds helmet again for every request, CSP directives parsed and all: ~9 % of the web process's
 * CPU on the send path.)
 */
export async function registerSecurityHeaders(app: FastifyInstance, options: SecurityHeaderOptions): Promise<void> {
  const headers = helmetHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.headers(headers);
    if (options.servedOverHttps || req.protocol === 'https') reply.header('strict-transport-security', HSTS);
  });
}

/** The headers helmet sets with these options, asked of it once on a response that only records them. */
function helmetHeaders(options: Parameters<typeof helmet>[0]): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
      return response;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => (failure = err));
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return headers;
}
