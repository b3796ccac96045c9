/** @module Config schema of `quota` (pure data). The quotas themselves come from each consumer's plan. */
import type { JSONSchemaType } from 'ajv';

export interface QuotaConfig {
  keyPrefix: string;
  headers: 'always' | 'onRefusal';
}

export const quotaSchema: JSONSchemaType<QuotaConfig> = {
  type: 'object',
  description:
    "Counts each consumer's calls per calendar day or month (UTC) as its plan's `limits.quotas` say (per consumer, API version " +
    'and plan), shared by every gateway node through Redis when the gateway has it; 429 `limit.quota_exceeded` beyond. ' +
    'Only calls answered with something other than a gateway problem count.',
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
        'When the IETF `RateLimit-Policy` / `RateLimit` headers carry the quotas: on every answer, or only on a 429 ' +
        '(which always carries them and `Retry-After`).',
    },
  },
  required: ['keyPrefix', 'headers'],
  additionalProperties: false,
};
