/**
 * @module Where cached answers live: one in-memory LRU with a byte budget per API version
 * (embedded mode) or Redis under a key prefix (distributed, shared by every node). Entries are
 * kept past their freshness for the stale-if-error window; both stores purge by key prefix.
 */
import { LRUCache } from 'lru-cache';
import type { CapturedResponse } from '../../contracts/index.js';
import { RESP_BLOB_STRING, type Clock, type RedisClient } from '../define-policy.js';
import { decodeStored, encodeStored } from '../stored-response.js';

/** A kept answer and its times (ms on the gateway's clock). */
export interface CacheEntry extends CapturedResponse {
  storedAt: number;
  /** Served as a hit until then. */
  freshUntil: number;
  /** Kept until then (≥ `freshUntil`), to answer when the upstream fails. */
  staleUntil: number;
}

export interface CacheStore {
  /** The entry under `key` unless it is past `staleUntil`; synchronous for memory. */
  get(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  set(key: string, entry: CacheEntry): void | Promise<void>;
  /** Removes every entry whose key starts with `prefix`; resolves with how many. */
  purge(prefix: string): Promise<number>;
}

/**
 * @example
 * const store = createMemoryCacheStore(64 * 1024 * 1024, { now: Date.now });
 */
export function createMemoryCacheStore(budgetBytes: number, clock: Clock): CacheStore {
  const entries = new LRUCache<string, CacheEntry>({
    maxSize: budgetBytes,
    sizeCalculation: (entry, key) => 128 + key.length + entry.body.length + JSON.stringify(entry.headers).length,
  });
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined || entry.staleUntil > clock.now()) return entry;
      entries.delete(key);
      return undefined;
    },
    set(key, entry) {
      entries.set(key, entry);
    },
    purge(prefix) {
      let purged = 0;
      for (const key of [...entries.keys()]) {
        if (key.startsWith(prefix) && entries.delete(key)) purged++;
      }
      return Promise.resolve(purged);
    },
  };
}

type StoredMeta = Omit<CacheEntry, 'body'>;

/** Redis `SCAN MATCH` treats these as pattern characters. */
function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, '\\$&');
}

/**
 * Values are `encodeStored` buffers (metadata + raw body) living `staleUntil - storedAt` ms by
 * Redis's own TTL; freshness is judged on the gateway's clock when read.
 *
 * @example
 * const store = createRedisCacheStore(redis, 'gatehouse:cache:', { now: Date.now });
 */
export function createRedisCacheStore(client: RedisClient, prefix: string, clock: Clock): CacheStore {
  const redis = client.withTypeMapping({ [RESP_BLOB_STRING]: Buffer });
  return {
    async get(key) {
      const value = await redis.get(prefix + key);
      if (value === null) return undefined;
      const decoded = decodeStored<StoredMeta>(value);
      if (decoded === undefined || decoded.meta.staleUntil <= clock.now()) return undefined;
      return { ...decoded.meta, body: decoded.body };
    },
    async set(key, entry) {
      const { body, ...meta } = entry;
      const retainMs = Math.max(1, entry.staleUntil - entry.storedAt);
      await redis.set(prefix + key, encodeStored(meta satisfies StoredMeta, body), { expiration: { type: 'PX', value: retainMs } });
    },
    async purge(keyPrefix) {
      let purged = 0;
      for await (const keys of redis.scanIterator({ MATCH: `${escapeGlob(prefix + keyPrefix)}*`, COUNT: 1000 })) {
        if (keys.length > 0) purged += await redis.unlink(keys);
      }
      return purged;
    },
  };
}
