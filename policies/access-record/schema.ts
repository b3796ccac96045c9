/** @module Config schema of `access-record` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface AccessRecordConfig {
  sensitiveQueryParams: string[];
}

export const DEFAULT_SENSITIVE_QUERY_PARAMS = [
  'access_token',
  'api_key',
  'apikey',
  'client_secret',
  'code',
  'key',
  'password',
  'secret',
  'signature',
  'sig',
  'token',
];

export const accessRecordSchema: JSONSchemaType<AccessRecordConfig> = {
  type: 'object',
  description: 'Writes one access record per request, whatever the outcome, rejections included.',
  properties: {
    sensitiveQueryParams: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 100 },
      maxItems: 200,
      default: DEFAULT_SENSITIVE_QUERY_PARAMS,
      description: 'Query parameter names (case-insensitive) whose values are replaced by "[redacted]" in records.',
    },
  },
  required: ['sensitiveQueryParams'],
  additionalProperties: false,
};
