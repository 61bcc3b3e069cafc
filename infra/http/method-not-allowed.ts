import type { FastifyInstance } from 'fastify';

interface KnownRoute {
  url: string;
  pattern: RegExp;
  methods: string[];
  /** Segments without a parameter: the more, the more specific the route. */
  statics: number;
}

export interface RouteMethods {
  /** The methods routes take on this path (none: the path is unknown). */
  allowed(path: string): string[];
  /**
   * For a request a parametric route matched: the methods of a more specific route of this path,
   * if there is one and it takes other methods. POST /v2/messages/1/history matches POST
   * /v2/messages/:id/:action, but the path is GET /v2/messages/:id/history's: that is a 405.
   */
  preferredElsewhere(path: string, matchedUrl: string, method: string): string[] | undefined;
}

/**
 * Which methods a path answers, from the routes as they are registered, so that a known path asked
 * with another method is told 405 and its `Allow` list (RFC 9110 §15.5.6) instead of 404. Register
 * it before the routes it should know of (an onRoute hook sees only routes added after it).
 */
export function trackRouteMethods(app: FastifyInstance): RouteMethods {
  const routes: KnownRoute[] = [];
  /** Per matched route: the more specific routes of other methods that may share its paths. */
  const rivals = new Map<string, KnownRoute[]>();
  app.addHook('onRoute', (route) => {
    // the catch-all OPTIONS route of CORS says nothing about which paths exist
    if (route.url === '*' || route.url === '/*') return;
    const statics = route.url.split('/').filter((s) => s && !s.startsWith(':') && s !== '*').length;
    routes.push({ url: route.url, pattern: patternOf(route.url), methods: [route.method].flat().map(String), statics });
    rivals.clear();
  });
  const allowed = (path: string) => {
    const methods = new Set<string>();
    for (const r of routes) if (r.pattern.test(path)) r.methods.forEach((m) => methods.add(m));
    return [...methods].sort();
  };
  return {
    allowed,
    preferredElsewhere(path, matchedUrl, method) {
      let list = rivals.get(matchedUrl);
      if (!list) {
        const matched = routes.find((r) => r.url === matchedUrl && r.methods.includes(method));
        list =
          matched && matched.statics < matched.url.split('/').filter(Boolean).length
            ? routes.filter((r) => r.statics > matched.statics && !r.methods.includes(method))
            : [];
        rivals.set(matchedUrl, list);
      }
      const better = list.filter((r) => r.pattern.test(path));
      if (better.length === 0) return undefined;
      const methods = new Set(better.flatMap((r) => r.methods));
      return methods.has(method) ? undefined : [...methods].sort();
    },
  };
}

/** A fastify route path as a regular expression: `:name` matches one segment, `*` the rest. */
function patternOf(url: string): RegExp {
  const source = url
    .split(/(:[A-Za-z0-9_]+|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}
