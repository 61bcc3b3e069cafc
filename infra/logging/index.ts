export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export { logNodeWarnings } from './node-warnings.js';
