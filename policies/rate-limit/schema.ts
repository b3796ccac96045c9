/** @module Config schema of `rate-limit` (pure data). The limits themselves come from each consumer's plan. */
import type { JSONSchemaType } from 'ajv';

export interface RateLimitConfig {
  keyPrefix: string;
  headers: 'always' | 'onRefusal';
}

export const rateLimitSchema: JSONSchemaType<RateLimitConfig> = {
  type: 'object',
  description:
    "Limits each consumer's requests per window as its plan's `limits.rates` say (per consumer, API version and plan), " +
    'shared by every gateway node through Redis when the gateway has it; 429 `limit.rate_exceeded` beyond.',
  properties: {
    keyPrefix: {
      type: 'string',
      pattern: '^[A-Za-z0-9:_.-]{1,64}$',
      default: 'gatehouse:rl:',
      description: 'Prefix of the counter keys (in Redis and in memory); tests and shared Redis instances set their own.',
    },
    headers: {
      type: 'string',
      enum: ['always', 'onRefusal'],
      default: 'always',
      description:
        'When the IETF `RateLimit-Policy` / `RateLimit` headers are sent: on every answer, so clients can pace themselves, ' +
        'or only on a 429 (which always carries them and `Retry-After`).',
    },
  },
  required: ['keyPrefix', 'headers'],
  additionalProperties: false,
};
