/**
 * @module One Buffer per kept answer (an idempotency record, a cached response) for the Redis
 * stores: a 4-byte big-endian length, the metadata as JSON, then the body bytes as they are —
 * no base64, so a 1 MiB body costs 1 MiB in Redis — and the caller partition both policies key by.
 */
import type { RequestContext } from '../contracts/index.js';

/**
 * @example
 * const value = encodeStored({ status: 200, headers: { 'content-type': 'application/json' } }, body);
 * await redis.set(key, value, { expiration: { type: 'PX', value: 60_000 } });
 */
export function encodeStored(meta: object, body: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(json.length, 0);
  return Buffer.concat([head, json, body], 4 + json.length + body.length);
}

/** The metadata and body of an `encodeStored` value; `undefined` when it is not one (foreign or damaged key). */
export function decodeStored<Meta>(value: Buffer): { meta: Meta; body: Buffer } | undefined {
  if (value.length < 4) return undefined;
  const length = value.readUInt32BE(0);
  if (4 + length > value.length) return undefined;
  try {
    const meta = JSON.parse(value.toString('utf8', 4, 4 + length)) as Meta;
    if (typeof meta !== 'object' || meta === null) return undefined;
    return { meta, body: value.subarray(4 + length) };
  } catch {
    return undefined;
  }
}

/**
 * The partition a caller's kept answers live in: its consumer (`anonymous` without one) and,
 * when the credential names one, the subject — a consumer acting for several end users with
 * their own tokens must not see one user's answer in another's session. Values are
 * URI-encoded, so `:` and `/` in them cannot forge another partition.
 *
 * @example
 * callerPartition(ctx); // 'c:storefront/s:storefront'
 */
export function callerPartition(ctx: Pick<RequestContext, 'consumer' | 'subject'>): string {
  const consumer = ctx.consumer === undefined ? 'anonymous' : `c:${encodeURIComponent(ctx.consumer.id)}`;
  return ctx.subject === undefined ? consumer : `${consumer}/s:${encodeURIComponent(ctx.subject)}`;
}
