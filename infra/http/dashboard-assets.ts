import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/** Paths that belong to the API or to operations, never to the dashboard's pages. */
const NOT_PAGES = /^\/(v2|api|graphql|docs|metrics|health|ready|t|unsubscribe|\.well-known)(\/|$|\?)/;

export interface DashboardAssets {
  /** Serves the built files (hashed assets under /assets, cached for a year). */
  plugin: FastifyPluginAsync;
  /** Whether an unmatched request is a browser asking for one of the app's pages. */
  isPage(req: FastifyRequest): boolean;
  /** The app's one HTML page, never cached, so a new build is picked up at the next load. */
  sendPage(reply: FastifyReply): FastifyReply;
}

/**
 * The web dashboard (dashboard/, built by Vite into dist/dashboard), or undefined when it was not
 * built. Every page path (/, /login, /servers/…) answers its HTML page; nothing comes from a CDN.
 * Unknown API paths keep their JSON 404; a browser asking for an unknown page gets the app, which
 * says "no such page".
 */
export function dashboardAssets(dir: string): DashboardAssets | undefined {
  const indexFile = join(dir, 'index.html');
  if (!existsSync(indexFile)) return undefined;
  const index = readFileSync(indexFile);
  const sendPage = (reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);
  return {
    sendPage,
    isPage: (req) =>
      req.method === 'GET' && (req.headers.accept ?? '').includes('text/html') && !NOT_PAGES.test(req.url),
    plugin: async (app: FastifyInstance) => {
      await app.register(fastifyStatic, {
        root: dir,
        prefix: '/',
        index: false,
        wildcard: false,
        cacheControl: false,
        decorateReply: false,
        setHeaders: (reply, path) => {
          if (path.includes('/assets/')) reply.header('cache-control', 'public, max-age=31536000, immutable');
        },
      });
      app.get('/', { schema: { hide: true } }, async (_req, reply) => sendPage(reply));
    },
  };
}
