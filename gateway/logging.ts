/**
 * @module Loggers: the operational log (winston, JSON lines on stdout) and the access log
 * (winston, one JSON line per request to a file or stdout). Neither ever receives a header
 * value, a token or a secret: callers pass structured, already-safe fields.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import winston from 'winston';
import TransportStream from 'winston-transport';
import { createAccessRecordSerializer } from '../contracts/index.js';
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
  /** Longest a record waits before it is written, ms (default 50). */
  flushIntervalMs?: number;
  /** Records per write at most (default 256): a full batch is written at once. */
  batchSize?: number;
  /** Size of the line buffer (default 64 KiB); a full buffer is written at once. */
  bufferBytes?: number;
}

/** An access log that also takes a record serialised already, so a tee serialises it once. */
export interface LineAccessLog extends AccessLog {
  /** `write` for a record serialised already (`createAccessRecordSerializer`). */
  writeLine(json: string): void;
}

export interface ClosableAccessLog extends LineAccessLog {
  /** Writes what is pending now. */
  flush(): void;
  close(): Promise<void>;
}

/** The key of a log entry that carries a batch of JSON lines as bytes. */
const BATCH = Symbol('gatehouse.access-batch');

/**
 * A winston transport that writes an entry's batch of JSON lines to a stream as the bytes they
 * are. winston's File and Stream transports take the message as a string, so each batch went
 * from bytes to a string and back (64 KiB decoded, re-encoded into a new buffer per write):
 * 3.7 µs of CPU per record, most of it collecting those buffers. `recycle` gets each batch's
 * buffer back once the stream has written it, where it is safe to reuse.
 */
class JsonLinesTransport extends TransportStream {
  constructor(
    private readonly target: Writable,
    private readonly recycle: ((buffer: Buffer) => void) | undefined,
  ) {
    super({ level: 'info' });
  }

  override log(info: { message?: unknown; [BATCH]?: { view: Buffer; buffer: Buffer } }, next: () => void): void {
    const batch = info[BATCH];
    if (batch === undefined) {
      this.target.write(`${String(info.message)}\n`);
    } else {
      const { recycle } = this;
      this.target.write(batch.view, recycle === undefined ? undefined : () => recycle(batch.buffer));
    }
    next();
  }
}

/**
 * Access records as JSON lines through winston, in batches: winston's per-entry pipeline costs
 * about as much as the whole proxy hop (~50 µs with its file write), so records are serialised
 * on the request path (~2 µs) into an off-heap buffer, and each full buffer goes to winston as
 * one entry, written by `JsonLinesTransport` as bytes. A record waits at most
 * `flushIntervalMs`; a crash can lose that much (the durable spool is separate).
 *
 * @example
 * const accessLog = createAccessLog({ file: './data/access.log' });
 * accessLog.write(record);
 */
export function createAccessLog(options: AccessLogOptions = {}): ClosableAccessLog {
  const file = options.stream === undefined && options.file !== undefined && options.file !== '-' ? options.file : undefined;
  if (file !== undefined) mkdirSync(dirname(file), { recursive: true });
  const owned = file === undefined ? undefined : createWriteStream(file, { flags: 'a' });
  const target: Writable = owned ?? options.stream ?? process.stdout;
  const bufferBytes = options.bufferBytes ?? 64 * 1024;
  // Buffers the file has written come back for the next batches, so the steady state allocates
  // none. Another stream (a test's PassThrough) may hold on to what it was given: each batch is
  // a copy there.
  const spare: Buffer[] = [];
  const recycle =
    owned === undefined
      ? undefined
      : (buffer: Buffer): void => {
          if (spare.length < 4) spare.push(buffer);
        };
  // The entries are written as they are: no format (winston's default would serialise each one
  // to JSON only for the transport to ignore it).
  const logger = winston.createLogger({ level: 'info', format: winston.format((info) => info)(), transports: [new JsonLinesTransport(target, recycle)] });
  const flushIntervalMs = options.flushIntervalMs ?? 50;
  const batchSize = options.batchSize ?? 256;
  // Lines are encoded straight into an off-heap buffer: a record's string dies young instead
  // of waiting for the flush on the JS heap (where it measured as +4 µs/request of GC).
  // Small enough to stay cache-resident: a 512 KiB buffer measured slower under load.
  let chunk: Buffer = Buffer.allocUnsafeSlow(bufferBytes);
  let offset = 0;
  let count = 0;
  let timer: NodeJS.Timeout | undefined;

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    if (offset === 0) return;
    let batch: { view: Buffer; buffer: Buffer };
    if (recycle === undefined) {
      const copy = Buffer.from(chunk.subarray(0, offset));
      batch = { view: copy, buffer: copy };
    } else {
      batch = { view: chunk.subarray(0, offset), buffer: chunk };
      chunk = spare.pop() ?? Buffer.allocUnsafeSlow(bufferBytes);
    }
    offset = 0;
    count = 0;
    logger.log({ level: 'info', message: '', [BATCH]: batch });
  }

  function writeLine(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (offset + line.length * 3 + 1 > chunk.length) flush();
    if (line.length * 3 + 1 > chunk.length) {
      logger.info(line); // larger than the whole buffer: written on its own
      return;
    }
    offset += chunk.write(line, offset, 'utf8');
    chunk[offset++] = 0x0a;
    if (++count >= batchSize) flush();
    else timer ??= setTimeout(flush, flushIntervalMs).unref();
  }

  const serialize = createAccessRecordSerializer();
  return {
    write(record: AccessRecord) {
      writeLine(serialize(record));
    },
    writeLine,
    flush,
    async close() {
      flush();
      await new Promise<void>((resolve) => {
        logger.on('finish', () => resolve());
        logger.end();
      });
      // Everything is handed to the file by now; resolve once it is written.
      if (owned !== undefined) await new Promise<void>((resolve) => owned.end(() => resolve()));
    },
  };
}

/**
 * Every record to each log (the file log and the spool on a node fed by a control plane),
 * serialised once: serialising is most of what a record costs on the request path.
 *
 * @example
 * const accessLog = teeAccessLog([createAccessLog({ file: './data/access.log' }), createAccessSpool({ dir: './data/spool', logger })]);
 */
export function teeAccessLog(logs: readonly LineAccessLog[]): AccessLog {
  const serialize = createAccessRecordSerializer();
  return {
    write(record: AccessRecord) {
      let json: string;
      try {
        json = serialize(record);
      } catch {
        // Not serialisable: each log decides (the spool counts it as dropped); none fails the request.
        for (const log of logs) {
          try {
            log.write(record);
          } catch {
            // the file log has no way to write it either
          }
        }
        return;
      }
      for (const log of logs) log.writeLine(json);
    },
  };
}
