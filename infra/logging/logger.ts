import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Default: pretty when stdout is a terminal, JSON otherwise. */
  format?: 'json' | 'pretty' | undefined;
  destination?: NodeJS.WritableStream;
}

/** Structured JSON logs for machines, colourised lines for a person at a terminal. */
export function createLogger(options: LoggerOptions): Logger {
  const format = options.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const base = { level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'pretty') {
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid', destination: options.destination ?? 1 }));
  }
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: false }));
}
