/** @module Config schema of `api-key` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface ApiKeyConfig {
  header: string;
  required: boolean;
}

export const apiKeySchema: JSONSchemaType<ApiKeyConfig> = {
  type: 'object',
  description: 'Authenticates a consumer by an API key sent in a header (never in the URL).',
  properties: {
    header: { type: 'string', pattern: '^[A-Za-z0-9-]+$', default: 'X-API-Key', description: 'Header carrying the key.' },
    required: {
      type: 'boolean',
      default: true,
      description: 'Refuse requests without a key. Set false when `jwt-auth` is bound too, so either credential works.',
    },
  },
  required: ['header', 'required'],
  additionalProperties: false,
};
