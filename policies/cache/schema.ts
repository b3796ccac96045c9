/** @module Config schema of `cache` (pure data). */
import type { JSONSchemaType } from 'ajv';
import { OPERATION_ID_PATTERN } from '../../contracts/index.js';

/** Per-operation overrides; anything left out comes from the version-wide settings. */
export interface CacheOperationConfig {
  enabled?: boolean;
  ttlSeconds?: number;
  staleIfErrorSeconds?: number;
  shared?: boolean;
}

export interface CacheConfig {
  ttlSeconds: number;
  staleIfErrorSeconds: number;
  shared: boolean;
  operations: Record<string, CacheOperationConfig>;
  varyHeaders: string[];
  maxEntryBytes: number;
  memoryBudgetBytes: number;
  redisKeyPrefix: string;
}

const DAY = 24 * 3600;

export const cacheSchema: JSONSchemaType<CacheConfig> = {
  type: 'object',
  description:
    "Caches 200 answers to the version's GET operations (HEAD served from them) per consumer, with Cache-Status (RFC 9211) and stale-if-error; purged by key prefix on the gateway's admin route.",
  properties: {
    ttlSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: DAY,
      default: 60,
      description: 'Freshness of a stored answer; an upstream `s-maxage` / `max-age` below it shortens it.',
    },
    staleIfErrorSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 7 * DAY,
      default: 0,
      description: 'How long past freshness an entry may still answer when the upstream fails (refused, timed out, mapped 5xx); 0: never (RFC 5861 stale-if-error).',
    },
    shared: {
      type: 'boolean',
      default: false,
      description: 'One entry for every caller (public data). Otherwise entries are per consumer and token subject, so nobody sees another caller\'s answer.',
    },
    operations: {
      type: 'object',
      required: [],
      propertyNames: { pattern: OPERATION_ID_PATTERN },
      additionalProperties: {
        type: 'object',
        properties: {
          enabled: { type: 'boolean', nullable: true, description: 'Cache this GET operation (default true).' },
          ttlSeconds: { type: 'integer', minimum: 1, maximum: DAY, nullable: true, description: 'Freshness for this operation.' },
          staleIfErrorSeconds: { type: 'integer', minimum: 0, maximum: 7 * DAY, nullable: true, description: 'Stale-if-error window for this operation.' },
          shared: { type: 'boolean', nullable: true, description: 'One entry for every caller for this operation.' },
        },
        required: [],
        additionalProperties: false,
      },
      default: {},
      description: 'Per GET operation id: `enabled`, `ttlSeconds`, `staleIfErrorSeconds`, `shared`. Ids must be GET operations of the version (checked at compile).',
    },
    varyHeaders: {
      type: 'array',
      items: { type: 'string', pattern: '^[A-Za-z0-9-]+$' },
      maxItems: 20,
      default: ['accept', 'accept-encoding', 'accept-language'],
      description:
        'Request headers that are part of the key. An answer whose `Vary` names another header (or `*`) is not stored; caller credentials are keyed by consumer instead.',
    },
    maxEntryBytes: {
      type: 'integer',
      minimum: 1,
      maximum: 16 * 1024 * 1024,
      default: 1024 * 1024,
      description: 'Largest body stored; larger answers pass uncached.',
    },
    memoryBudgetBytes: {
      type: 'integer',
      minimum: 1024 * 1024,
      maximum: 4 * 1024 * 1024 * 1024,
      default: 64 * 1024 * 1024,
      description: "Embedded mode (no Redis): memory for this version's entries, least recently used evicted first; a change starts an empty store.",
    },
    redisKeyPrefix: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      default: 'gatehouse:cache:',
      description: 'Distributed mode: prefix of the Redis keys (`<prefix><api>/v<major><path>#<caller>#<vary>`).',
    },
  },
  required: ['ttlSeconds', 'staleIfErrorSeconds', 'shared', 'operations', 'varyHeaders', 'maxEntryBytes', 'memoryBudgetBytes', 'redisKeyPrefix'],
  additionalProperties: false,
};
