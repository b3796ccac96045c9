/** @module Config schema of `rbac` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface RbacConfig {
  requiredScopes: Record<string, string[]>;
  defaultScopes: string[];
}

export const rbacSchema: JSONSchemaType<RbacConfig> = {
  type: 'object',
  description: 'Each operation needs its scopes, granted both by the token and by the consumer plan.',
  properties: {
    requiredScopes: {
      type: 'object',
      required: [],
      additionalProperties: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 50 },
      default: {},
      description: 'Scopes each operation id needs (all of them). Operations not listed need `defaultScopes`.',
    },
    defaultScopes: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 200 },
      maxItems: 50,
      default: [],
      description: 'Scopes needed by operations that `requiredScopes` does not list.',
    },
  },
  required: ['requiredScopes', 'defaultScopes'],
  additionalProperties: false,
};
