import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logging/index.js';

/**
 * A handler whose client hung up keeps running (its append may be under way) after the server
 * closed that connection. This makes close() wait for such handlers too — at most `maxWaitMs`, so a
 * stuck one cannot block shutdown — and so the stores they use are closed only after them.
 * Register it before the routes it should cover.
 */
export function waitForRunningHandlersOnClose(app: FastifyInstance, logger: Logger, maxWaitMs: number): void {
  let running = 0;
  const waiting: (() => void)[] = [];
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, req, reply) {
      const result: unknown = handler.call(this, req, reply);
      if (result instanceof Promise) {
        running++;
        const settled = () => {
          if (--running === 0) waiting.splice(0).forEach((resolve) => resolve());
        };
        result.then(settled, settled);
      }
      return result;
    } as typeof handler;
  });
  app.addHook('onClose', async () => {
    if (running === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      new Promise<boolean>((resolve) => waiting.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), maxWaitMs))),
    ]);
    clearTimeout(timer);
    if (!settled)
      logger.warn({ handlers: running, waitedMs: maxWaitMs }, 'closing with request handlers still running');
  });
}
