/**
 * @module W3C Trace Context (https://www.w3.org/TR/trace-context/): honour a valid
 * `traceparent`, otherwise start a trace; ids come from a pooled random buffer so a request
 * costs no syscall.
 */
import { randomFillSync } from 'node:crypto';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export interface TraceIds {
  traceId: string;
  /** The caller's span, when it sent one. */
  parentId: string | undefined;
  flags: string;
}

/**
 * Random hex ids from a refilled pool (crypto-strength): the pool is hex-encoded once per
 * refill and ids are slices of it, so an id costs neither a syscall nor a native call.
 */
export class IdSource {
  readonly #pool = Buffer.allocUnsafe(4096);
  #hex = '';
  #offset = this.#pool.length;

  #take(bytes: number): string {
    if (this.#offset + bytes > this.#pool.length) {
      randomFillSync(this.#pool);
      this.#hex = this.#pool.toString('hex');
      this.#offset = 0;
    }
    const start = this.#offset * 2;
    this.#offset += bytes;
    return this.#hex.slice(start, start + bytes * 2);
  }

  traceId(): string {
    return this.#take(16);
  }

  spanId(): string {
    return this.#take(8);
  }
}

/** Parses `traceparent`; version `ff`, all-zero ids and malformed values start a new trace. */
export function parseTraceparent(header: string | undefined, ids: IdSource): TraceIds {
  if (header !== undefined) {
    const match = TRACEPARENT.exec(header.trim());
    if (match !== null) {
      const [, version, traceId, parentId, flags, rest] = match;
      const validVersion = version !== 'ff' && (version !== '00' || rest === undefined);
      if (validVersion && traceId !== ZERO_TRACE && parentId !== ZERO_SPAN) {
        return { traceId: traceId!, parentId, flags: flags! };
      }
    }
  }
  return { traceId: ids.traceId(), parentId: undefined, flags: '01' };
}

export function formatTraceparent(traceId: string, spanId: string, flags: string): string {
  return `00-${traceId}-${spanId}-${flags}`;
}
