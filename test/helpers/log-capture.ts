import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '../../infra/logging/index.js';

export interface CapturedLogs {
  logger: Logger;
  /** The JSON lines logged so far, parsed. */
  lines: Record<string, unknown>[];
  /** The lines with this message, once pino (which writes asynchronously) has written them. */
  find(msg: string): Promise<Record<string, unknown>[]>;
}

/** A JSON logger whose lines a test reads (what an operator would see in the log). */
export function captureLogs(level = 'info'): CapturedLogs {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  stream.on('data', (d: Buffer) => {
    const text = partial + d.toString('utf8');
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line));
  });
  return {
    logger: createLogger({ level, format: 'json', destination: stream }),
    lines,
    async find(msg) {
      const deadline = Date.now() + 2000;
      for (;;) {
        const found = lines.filter((l) => l.msg === msg);
        if (found.length > 0 || Date.now() > deadline) return found;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
