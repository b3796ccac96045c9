/** @module Config schema of `async-delivery` (pure data). */
import type { JSONSchemaType } from 'ajv';
import { OPERATION_ID_PATTERN } from '../../contracts/index.js';

/** A read that tells whether a request whose answer was lost has been applied upstream. */
export interface AsyncProbeConfig {
  method: 'POST' | 'GET';
  path: string;
  body?: Record<string, unknown>;
}

export interface AsyncOperationConfig {
  mode: 'always' | 'on-request';
  orderingKey?: string;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  probe?: AsyncProbeConfig;
}

export interface AsyncDeliveryConfig {
  operations: Record<string, AsyncOperationConfig>;
  forwardHeaders: string[];
  maxStoredResponseBytes: number;
}

export const asyncDeliverySchema: JSONSchemaType<AsyncDeliveryConfig> = {
  type: 'object',
  description:
    'Durable asynchronous delivery: the named operations are persisted (fsynced log, or Redis Streams with REDIS_URL) and answered 202 with the Location of a status resource; the gateway delivers them later, in order per ordering key, with retries, and dead-letters what cannot be delivered.',
  properties: {
    operations: {
      type: 'object',
      required: [],
      propertyNames: { pattern: OPERATION_ID_PATTERN },
      additionalProperties: {
        type: 'object',
        properties: {
          mode: {
            type: 'string',
            enum: ['always', 'on-request'],
            default: 'always',
            description: '`always`: every request is queued; `on-request`: only requests sending `Prefer: respond-async` (RFC 7240), others are forwarded as usual.',
          },
          orderingKey: {
            type: 'string',
            pattern: '^(/.*|header:[A-Za-z0-9-]+)$',
            maxLength: 256,
            nullable: true,
            description:
              'Where the ordering key is: a JSON Pointer into the body (`/vals_list/0/client_order_ref`) or `header:<name>`. Requests of one consumer and API version with the same key are delivered one after the other, in the order accepted. Absent: no ordering.',
          },
          maxAttempts: { type: 'integer', minimum: 1, maximum: 1000, default: 30, description: 'Attempts before a retryable failure goes to the dead-letter list.' },
          baseDelayMs: { type: 'integer', minimum: 10, maximum: 3_600_000, default: 1000, description: 'First retry delay; doubled per attempt, with jitter (half to the full delay).' },
          maxDelayMs: { type: 'integer', minimum: 10, maximum: 86_400_000, default: 300_000, description: 'Longest retry delay (an upstream Retry-After may ask for more).' },
          probe: {
            type: 'object',
            nullable: true,
            description:
              'Checked before re-sending an attempt whose outcome is unknown (the gateway crashed or the connection dropped after sending), for upstreams that do not honour Idempotency-Key: found (a non-empty list, a positive number or true) means delivered.',
            properties: {
              method: { type: 'string', enum: ['POST', 'GET'], default: 'POST', description: 'Method of the probe call.' },
              path: { type: 'string', pattern: '^/', maxLength: 1024, description: 'Path below the upstream base URL, e.g. `/sale.order/search`.' },
              body: {
                type: 'object',
                nullable: true,
                required: [],
                description: 'JSON body; any `{"$pointer": "/json/pointer"}` in it is replaced by that value of the request body, e.g. `{"domain": [["client_order_ref", "=", {"$pointer": "/vals_list/0/client_order_ref"}]]}`.',
              },
            },
            required: ['method', 'path'],
            additionalProperties: false,
          },
        },
        required: ['mode', 'maxAttempts', 'baseDelayMs', 'maxDelayMs'],
        additionalProperties: false,
      },
      default: {},
      description: 'Per operation id: `mode`, `orderingKey`, `maxAttempts`, `baseDelayMs`, `maxDelayMs`, `probe`. Ids must exist in the version and not be GET or HEAD (checked at compile).',
    },
    forwardHeaders: {
      type: 'array',
      items: { type: 'string', pattern: '^[A-Za-z0-9-]+$', maxLength: 100 },
      maxItems: 50,
      uniqueItems: true,
      default: ['content-type', 'accept', 'accept-language', 'content-language', 'x-gatehouse-consumer', 'x-gatehouse-subject'],
      description: 'Request headers persisted with a queued request and sent with its delivery; nothing else is kept (never a credential: `authorization`, `x-api-key`, `cookie` are refused here).',
    },
    maxStoredResponseBytes: {
      type: 'integer',
      minimum: 0,
      maximum: 4 * 1024 * 1024,
      default: 64 * 1024,
      description: 'Largest upstream answer kept for the status resource; a larger one is kept as status only (`truncated: true`).',
    },
  },
  required: ['operations', 'forwardHeaders', 'maxStoredResponseBytes'],
  additionalProperties: false,
};
