/** @module Config schema of `rbac` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface RbacConfig {
  requiredScopes: Record<string, string[]>;
  defaultScopes: string[];
}

export const rbacSchema: JSONSchemaType<RbacConfig> = {
  type: 'object',
  description:
    'Each operation needs its scopes (from the contract\'s `security` when it declares any, else from this config), granted both by the token and by the consumer plan.',
  properties: {
    requiredScopes: {
      type: 'object',
      required: [],
      additionalProperties: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 50 },
      default: {},
      description:
        'Scopes each operation id needs (all of them) where the version\'s contract declares no `security` for it (or there is no contract). Operations not listed need `defaultScopes`.',
    },
    defaultScopes: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 200 },
      maxItems: 50,
      default: [],
      description: 'Scopes needed by operations that neither the contract\'s `security` nor `requiredScopes` covers.',
    },
  },
  required: ['requiredScopes', 'defaultScopes'],
  additionalProperties: false,
};
