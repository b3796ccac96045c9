/** @module Config schema of `idempotency` (pure data). */
import type { JSONSchemaType } from 'ajv';
import { OPERATION_ID_PATTERN } from '../../contracts/index.js';

/** Per-operation overrides; anything left out comes from the version-wide settings. */
export interface IdempotencyOperationConfig {
  enabled?: boolean;
  required?: boolean;
  ttlSeconds?: number;
}

export type IdempotentMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface IdempotencyConfig {
  methods: IdempotentMethod[];
  required: boolean;
  ttlSeconds: number;
  operations: Record<string, IdempotencyOperationConfig>;
  maxKeyLength: number;
  maxResponseBytes: number;
  storedHeaders: string[];
  memoryBudgetBytes: number;
  redisKeyPrefix: string;
  onStoreFailure: 'failClosed' | 'failOpen';
}

const TTL_MAX = 30 * 24 * 3600;

export const idempotencySchema: JSONSchemaType<IdempotencyConfig> = {
  type: 'object',
  description:
    'Idempotency-Key (IETF httpapi draft): the first request with a key is forwarded and its answer kept per consumer; a retry with the same key and payload gets the kept answer (Idempotent-Replayed: true) without reaching the upstream.',
  properties: {
    methods: {
      type: 'array',
      items: { type: 'string', enum: ['POST', 'PUT', 'PATCH', 'DELETE'] },
      uniqueItems: true,
      maxItems: 4,
      default: ['POST', 'PATCH'],
      description: 'Methods whose operations take part unless `operations` says otherwise (POST and PATCH are the non-idempotent ones).',
    },
    required: {
      type: 'boolean',
      default: false,
      description: 'Refuse requests of taking-part operations that carry no Idempotency-Key (400 `idempotency.key_missing`); per operation in `operations`.',
    },
    ttlSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: TTL_MAX,
      default: 86_400,
      description: 'How long a completed answer is kept for replay (24 h, as the draft suggests).',
    },
    operations: {
      type: 'object',
      required: [],
      propertyNames: { pattern: OPERATION_ID_PATTERN },
      additionalProperties: {
        type: 'object',
        properties: {
          enabled: { type: 'boolean', nullable: true, description: 'Take part (true) or not (false), whatever the method.' },
          required: { type: 'boolean', nullable: true, description: 'Refuse requests without a key (e.g. order creation).' },
          ttlSeconds: { type: 'integer', minimum: 1, maximum: TTL_MAX, nullable: true, description: 'Replay window of this operation.' },
        },
        required: [],
        additionalProperties: false,
      },
      default: {},
      description: 'Per operation id: `enabled`, `required`, `ttlSeconds`. Ids must exist in the version (checked at compile).',
    },
    maxKeyLength: {
      type: 'integer',
      minimum: 8,
      maximum: 1024,
      default: 255,
      description: 'Longest key accepted; longer, empty or non-printable keys answer 400 `request.invalid_header`.',
    },
    maxResponseBytes: {
      type: 'integer',
      minimum: 0,
      maximum: 16 * 1024 * 1024,
      default: 1024 * 1024,
      description: 'Largest response body kept; a larger answer is sent but not kept (the key is released and the case logged).',
    },
    storedHeaders: {
      type: 'array',
      items: { type: 'string', pattern: '^[A-Za-z0-9-]+$' },
      maxItems: 50,
      default: ['content-type', 'content-language', 'content-location', 'location', 'etag', 'last-modified', 'link'],
      description: 'Response headers kept with the answer and replayed; others (dates, cookies, limits) are not.',
    },
    memoryBudgetBytes: {
      type: 'integer',
      minimum: 1024 * 1024,
      maximum: 4 * 1024 * 1024 * 1024,
      default: 64 * 1024 * 1024,
      description: 'Embedded mode (no Redis): memory for this version\'s records, least recently used evicted first; a change starts an empty store.',
    },
    redisKeyPrefix: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      default: 'gatehouse:idempotency:',
      description: 'Distributed mode: prefix of the Redis keys (`<prefix><api>/v<major>/<consumer>/<key>`).',
    },
    onStoreFailure: {
      type: 'string',
      enum: ['failClosed', 'failOpen'],
      default: 'failClosed',
      description:
        'Redis unreachable while a keyed request arrives: `failClosed` answers 503 `idempotency.store_unavailable` (the client retries with the same key later), `failOpen` forwards unprotected. Logged and counted either way.',
    },
  },
  required: ['methods', 'required', 'ttlSeconds', 'operations', 'maxKeyLength', 'maxResponseBytes', 'storedHeaders', 'memoryBudgetBytes', 'redisKeyPrefix', 'onStoreFailure'],
  additionalProperties: false,
};
