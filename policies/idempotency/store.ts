/**
 * @module Where idempotency records live: one in-memory LRU per API version (embedded mode) or
 * Redis (distributed). A key is claimed atomically with an in-flight marker that lapses on its
 * own (a node that dies mid-request does not lock the key forever); only the claim's owner may
 * replace its marker with the answer or drop it.
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CapturedResponse } from '../../contracts/index.js';
import { RESP_BLOB_STRING, type Clock, type RedisClient } from '../define-policy.js';
import { decodeStored, encodeStored } from '../stored-response.js';

/** What holds a key: a claim whose answer is not in yet, or the kept answer. */
export type IdempotencyRecord =
  | { state: 'in_flight'; fingerprint: string }
  | { state: 'done'; fingerprint: string; response: CapturedResponse };

/** Proof of ownership of a key, handed back to `complete` / `release`. */
export interface Claim {
  readonly key: string;
  readonly marker: unknown;
}

export type ClaimResult = { claimed: true; claim: Claim } | { claimed: false; record: IdempotencyRecord };

export interface IdempotencyStore {
  /** Atomically claims `key` (marker lapsing after `inFlightMs`), or says what holds it. */
  claim(key: string, fingerprint: string, inFlightMs: number): Promise<ClaimResult>;
  /** Replaces the claim's marker by the answer, kept `ttlMs`; false if the claim lapsed meanwhile. */
  complete(claim: Claim, fingerprint: string, response: CapturedResponse, ttlMs: number): Promise<boolean>;
  /** Drops the claim's marker so the client may retry; false if it had lapsed already. */
  release(claim: Claim): Promise<boolean>;
}

interface MemoryEntry {
  record: IdempotencyRecord;
  /** On the injected clock, so tests can step past a TTL. */
  expiresAt: number;
  size: number;
}

/** Rough bookkeeping cost of an entry beside its body (key, record, headers). */
const ENTRY_OVERHEAD = 256;

/**
 * Embedded store: least recently used records are evicted first once `budgetBytes` is spent
 * (an evicted record forgets its key: size the budget for the traffic in one TTL).
 *
 * @example
 * const store = createMemoryIdempotencyStore(64 * 1024 * 1024, { now: Date.now });
 */
export function createMemoryIdempotencyStore(budgetBytes: number, clock: Clock): IdempotencyStore {
  const entries = new LRUCache<string, MemoryEntry>({ maxSize: budgetBytes, sizeCalculation: (entry, key) => entry.size + key.length });
  return {
    claim(key, fingerprint, inFlightMs) {
      const now = clock.now();
      const held = entries.get(key);
      if (held !== undefined && held.expiresAt > now) return Promise.resolve({ claimed: false, record: held.record });
      const marker: MemoryEntry = { record: { state: 'in_flight', fingerprint }, expiresAt: now + inFlightMs, size: ENTRY_OVERHEAD };
      entries.set(key, marker);
      return Promise.resolve({ claimed: true, claim: { key, marker } });
    },
    complete(claim, fingerprint, response, ttlMs) {
      if (entries.peek(claim.key) !== claim.marker) return Promise.resolve(false);
      const size = ENTRY_OVERHEAD + response.body.length + JSON.stringify(response.headers).length;
      entries.set(claim.key, { record: { state: 'done', fingerprint, response }, expiresAt: clock.now() + ttlMs, size });
      return Promise.resolve(true);
    },
    release(claim) {
      if (entries.peek(claim.key) !== claim.marker) return Promise.resolve(false);
      entries.delete(claim.key);
      return Promise.resolve(true);
    },
  };
}

/** Compare-and-set: only the marker's owner turns it into the answer. */
const COMPLETE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
/** Compare-and-delete: only the marker's owner drops it. */
const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

interface StoredMeta {
  state: 'in_flight' | 'done';
  fingerprint: string;
  /** In-flight markers: unique per claim, so a lapsed owner can never overwrite a new claim. */
  owner?: string;
  status?: number;
  headers?: Record<string, string | string[]>;
}

const EMPTY = Buffer.alloc(0);

/**
 * Distributed store: `SET key marker NX PX inFlightMs` is the atomic claim, so of two nodes
 * racing on one key exactly one forwards; the answer replaces the marker by a compare-and-set
 * script. Values are `encodeStored` buffers. Retention is Redis's own TTL (real time).
 *
 * @example
 * const store = createRedisIdempotencyStore(redis, 'gatehouse:idempotency:');
 */
export function createRedisIdempotencyStore(client: RedisClient, prefix: string): IdempotencyStore {
  const redis = client.withTypeMapping({ [RESP_BLOB_STRING]: Buffer });
  return {
    async claim(key, fingerprint, inFlightMs) {
      const full = prefix + key;
      const marker = encodeStored({ state: 'in_flight', fingerprint, owner: randomUUID() } satisfies StoredMeta, EMPTY);
      // A marker can lapse between a refused SET and the GET: then claim again (bounded).
      for (let attempt = 0; attempt < 3; attempt++) {
        const set = await redis.set(full, marker, { condition: 'NX', expiration: { type: 'PX', value: inFlightMs } });
        if (set !== null) return { claimed: true, claim: { key: full, marker } };
        const held = await redis.get(full);
        if (held === null) continue;
        const decoded = decodeStored<StoredMeta>(held);
        if (decoded === undefined) throw new Error(`idempotency record ${full} is not readable`);
        const { meta, body } = decoded;
        if (meta.state === 'in_flight') return { claimed: false, record: { state: 'in_flight', fingerprint: meta.fingerprint } };
        return {
          claimed: false,
          record: { state: 'done', fingerprint: meta.fingerprint, response: { status: meta.status ?? 200, headers: meta.headers ?? {}, body } },
        };
      }
      throw new Error(`idempotency key ${full} kept lapsing while claimed`);
    },
    async complete(claim, fingerprint, response, ttlMs) {
      const value = encodeStored({ state: 'done', fingerprint, status: response.status, headers: response.headers } satisfies StoredMeta, response.body);
      const done = await redis.eval(COMPLETE_SCRIPT, { keys: [claim.key], arguments: [claim.marker as Buffer, value, String(ttlMs)] });
      return done === 1;
    },
    async release(claim) {
      const dropped = await redis.eval(RELEASE_SCRIPT, { keys: [claim.key], arguments: [claim.marker as Buffer] });
      return dropped === 1;
    },
  };
}
