/**
 * @module Loggers: the operational log (winston, JSON lines on stdout) and the access log
 * (winston, one JSON line per request to a file or stdout). Neither ever receives a header
 * value, a token or a secret: callers pass structured, already-safe fields.
 */
import type { Writable } from 'node:stream';
import winston from 'winston';
import type { AccessLog, AccessRecord, Logger } from '../policies/index.js';

export interface AppLoggerOptions {
  level?: string;
  /** Component name added to every line, e.g. `gateway`. */
  component: string;
  /** Silence output (tests that assert on other things). */
  silent?: boolean;
  /** Write here instead of stdout (tests read what was logged). */
  stream?: Writable;
}

/**
 * @example
 * const logger = createAppLogger({ component: 'gateway', level: process.env.LOG_LEVEL });
 * logger.info('listening', { port: 8080 });
 */
export function createAppLogger(options: AppLoggerOptions): winston.Logger & Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: { component: options.component },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [
      options.stream === undefined
        ? new winston.transports.Console({ silent: options.silent === true })
        : new winston.transports.Stream({ stream: options.stream }),
    ],
  });
}

export interface AccessLogOptions {
  /** File to append JSON lines to; stdout when absent or `-`. */
  file?: string;
  /** Write here instead (tests read what was recorded). */
  stream?: Writable;
}

export interface ClosableAccessLog extends AccessLog {
  close(): Promise<void>;
}

/**
 * @example
 * const accessLog = createAccessLog({ file: './data/access.log' });
 * accessLog.write(record);
 */
export function createAccessLog(options: AccessLogOptions = {}): ClosableAccessLog {
  const transport =
    options.stream !== undefined
      ? new winston.transports.Stream({ stream: options.stream })
      : options.file === undefined || options.file === '-'
      ? new winston.transports.Console()
      : new winston.transports.File({ filename: options.file });
  const logger = winston.createLogger({ level: 'info', format: winston.format.json(), transports: [transport] });
  return {
    write(record: AccessRecord) {
      logger.info('access', record);
    },
    close() {
      return new Promise((resolve) => {
        logger.on('finish', () => resolve());
        logger.end();
      });
    },
  };
}
