import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Default: pretty when stdout is a terminal, JSON otherwise. */
  format?: 'json' | 'pretty' | undefined;
  destination?: NodeJS.WritableStream;
  /** File descriptor for the default destination: 1 (stdout), or 2 for commands whose stdout is their answer. */
  fd?: 1 | 2;
}

/** Structured JSON logs for machines, colourised lines for a person at a terminal. */
export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 1;
  const format = options.format ?? ((fd === 1 ? process.stdout : process.stderr).isTTY ? 'pretty' : 'json');
  const base = { level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'pretty') {
    return pino(
      base,
      pretty({
        colorize: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid',
        singleLine: true,
        destination: options.destination ?? fd,
      }),
    );
  }
  // Writes of whole lines, at most PIPE_BUF (4096) bytes each: the processes of a supervised Postlog
  // share one stdout pipe, and only writes that small are atomic there, so lines never interleave.
  return pino(base, options.destination ?? pino.destination({ dest: fd, sync: false, maxWrite: 4096 }));
}
