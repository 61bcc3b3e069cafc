import type { Logger } from './logger.js';

/**
 * Node's process warnings (deprecations, a library's negative timeout…) as log lines of our own.
 * Node prints them to stderr as plain text, which breaks "one JSON object a line" for log
 * collectors. Each kind of warning is logged at warn level once, then at debug level.
 */
export function logNodeWarnings(logger: Logger): void {
  const seen = new Set<string>();
  // Node's own listener is what prints them; ours replaces it
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    const kind = `${warning.name}:${(warning as { code?: string }).code ?? ''}`;
    const level = seen.has(kind) ? 'debug' : 'warn';
    seen.add(kind);
    logger[level](
      { warning: warning.name, code: (warning as { code?: string }).code, detail: warning.message },
      'Node.js warning',
    );
  });
}
