/**
 * @module What the `async-delivery` policy hands to the gateway's durable queue, and what the
 * queue keeps per request: the immutable record written before the 202, and its delivery state.
 * Types and pure helpers only; the stores (append-only file, Redis Streams) live in gateway/async/.
 */

/** Checked before re-sending an attempt whose outcome is unknown (a crash between sending and recording). */
export interface AsyncProbe {
  method: 'POST' | 'GET';
  /** Below the version's upstream base URL, e.g. `/sale.order/search`. */
  path: string;
  /** The probe body with the request's values filled in (JSON), or null. */
  body: unknown;
}

/** How one request is delivered; copied into the record so delivery never depends on a later snapshot. */
export interface AsyncDeliveryPlan {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  probe: AsyncProbe | null;
  /** Largest upstream answer kept for the status resource; a larger one is kept without its body. */
  maxStoredResponseBytes: number;
}

/** A request accepted for later delivery, as persisted before the client got its 202. Never a credential. */
export interface AsyncRecord {
  id: string;
  /** Sent upstream as `Idempotency-Key` and `X-Gatehouse-Transaction` with every attempt. */
  txid: string;
  consumer: string;
  /** The token's subject, when there was one: the status resource is theirs only. */
  subject: string | null;
  api: string;
  major: number;
  /** The version that accepted it (deliveries use the major's current version). */
  version: string;
  operationId: string;
  method: string;
  /** Path (with query) below the version prefix, as sent upstream. */
  path: string;
  /** The request headers the policy is configured to keep (`forwardHeaders`), lower-case names. */
  headers: Record<string, string>;
  /** The body as received, base64; null when there was none. Dropped once delivered. */
  body: string | null;
  /** Consumer + API version + the configured key's value: requests with one key are delivered in order. */
  orderingKey: string;
  receivedAt: number;
  traceId: string;
  /**
   * A fail-closed response transform (field masking) applied to this consumer's answers of the
   * operation when it was accepted: the status resource then shows the upstream's status but
   * withholds its body, which no transform can check there.
   */
  withholdAnswer: boolean;
  plan: AsyncDeliveryPlan;
}

/**
 * `pending`: waiting (for its turn behind earlier requests of its ordering key, or for a
 * first attempt); `failed`: the last attempt failed and another is due at `nextAttemptAt`;
 * `delivered`: the upstream answered (status and body kept); `dead`: given up (a permanent
 * refusal or retries exhausted) and held in the dead-letter list; `discarded`: an admin dropped it.
 */
export type AsyncStatus = 'pending' | 'failed' | 'delivered' | 'dead' | 'discarded';

/** The upstream's answer to a delivered request. */
export interface AsyncUpstreamAnswer {
  status: number;
  contentType: string | null;
  /** Text (`utf8`) or bytes (`base64`); empty when `truncated`. */
  body: string;
  encoding: 'utf8' | 'base64';
  truncated: boolean;
  /** `probe`: an attempt's answer was lost (crash, reset), and the probe found the request applied. */
  confirmedBy: 'response' | 'probe';
}

/** Why the last attempt failed: a problem code of the gateway (the upstream's own error text never travels raw). */
export interface AsyncError {
  code: string;
  status: number;
  detail: string;
}

export interface AsyncState {
  status: AsyncStatus;
  /** Attempts started (a probe that answered counts as one). */
  attempts: number;
  nextAttemptAt: number | null;
  /** Written durably before an attempt is sent and cleared with its outcome: still set after a crash means "outcome unknown". */
  sendingSince: number | null;
  /** When the attempt started at `sendingSince` was sure to have ended (connect + response timeouts): a probe waits for it. */
  sendDeadline: number | null;
  /** The upstream may have applied the request without the gateway hearing of it: probe (or rely on the transaction id) before sending again. */
  inDoubt: boolean;
  lastError: AsyncError | null;
  upstream: AsyncUpstreamAnswer | null;
  updatedAt: number;
  /** The admin (token label) who last replayed or discarded it. */
  actor: string | null;
}

export interface AsyncEntry {
  record: AsyncRecord;
  state: AsyncState;
}

/** The part of the gateway's queue the policy uses. */
export interface AsyncQueue {
  /** A new request id for this ordering key (a distributed store encodes the key's partition in it). */
  mintId(orderingKey: string): string;
  /** Persists the request; resolves only once it would survive a crash of this node. */
  enqueue(record: AsyncRecord): Promise<void>;
}

/** The state of a request just accepted. */
export function initialAsyncState(now: number): AsyncState {
  return { status: 'pending', attempts: 0, nextAttemptAt: null, sendingSince: null, sendDeadline: null, inDoubt: false, lastError: null, upstream: null, updatedAt: now, actor: null };
}

/** Sentinel of a JSON Pointer that names nothing in the document. */
export const MISSING = Symbol('missing');

/**
 * Resolves an RFC 6901 JSON Pointer (`/vals_list/0/client_order_ref`) in a parsed JSON value.
 *
 * @example
 * readPointer({ vals_list: [{ client_order_ref: 'R-1' }] }, '/vals_list/0/client_order_ref'); // 'R-1'
 */
export function readPointer(document: unknown, pointer: string): unknown {
  if (pointer === '') return document;
  let value = document;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(value)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token) || Number(token) >= value.length) return MISSING;
      value = value[Number(token)];
    } else if (typeof value === 'object' && value !== null && Object.hasOwn(value, token)) {
      value = (value as Record<string, unknown>)[token];
    } else {
      return MISSING;
    }
  }
  return value;
}

/**
 * Fills a probe template: every object `{"$pointer": "/a/b"}` is replaced by that value of the
 * request body. Returns the pointer that named nothing, if one did.
 *
 * @example
 * fillTemplate({ domain: [['client_order_ref', '=', { $pointer: '/ref' }]] }, { ref: 'R-1' });
 * // { value: { domain: [['client_order_ref', '=', 'R-1']] } }
 */
export function fillTemplate(template: unknown, body: unknown): { value: unknown } | { missing: string } {
  let missing: string | undefined;
  const fill = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(fill);
    if (typeof node !== 'object' || node === null) return node;
    const entries = Object.entries(node);
    if (entries.length === 1 && entries[0]![0] === '$pointer' && typeof entries[0]![1] === 'string') {
      const found = readPointer(body, entries[0]![1]);
      if (found === MISSING || found === undefined) missing ??= entries[0]![1];
      return found === MISSING ? null : found;
    }
    return Object.fromEntries(entries.map(([name, value]) => [name, fill(value)]));
  };
  const value = fill(template);
  return missing === undefined ? { value } : { missing };
}
