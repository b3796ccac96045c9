/** @module Config schema of `jwt-auth` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface JwtIssuerConfig {
  issuer: string;
  jwksUri?: string;
  audiences: string[];
  algorithms: string[];
  clockSkewSeconds: number;
  rolesClaim: string;
  roleScopes: Record<string, string[]>;
}

export interface JwtAuthConfig {
  issuers: JwtIssuerConfig[];
  maxTokenBytes: number;
  cacheSize: number;
  jwksCooldownSeconds: number;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export const jwtAuthSchema: JSONSchemaType<JwtAuthConfig> = {
  type: 'object',
  description: 'Verifies bearer JWT access tokens against the trusted issuers.',
  properties: {
    issuers: {
      type: 'array',
      minItems: 1,
      maxItems: 20,
      description: 'Trusted issuers; a token is checked against the one its `iss` names.',
      items: {
        type: 'object',
        properties: {
          issuer: { type: 'string', minLength: 1, maxLength: 500, description: 'Exact `iss` value.' },
          jwksUri: {
            type: 'string',
            pattern: '^https?://',
            nullable: true,
            description: 'Where the issuer publishes its signing keys; absent: found by OpenID discovery of the issuer.',
          },
          audiences: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'Accepted `aud` values (any one).' },
          algorithms: {
            type: 'array',
            items: { type: 'string', enum: ASYMMETRIC },
            minItems: 1,
            default: ['RS256'],
            description: 'Accepted signature algorithms; symmetric ones and `none` are never accepted.',
          },
          clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 300, default: 30, description: 'Leeway for exp, nbf and iat.' },
          rolesClaim: { type: 'string', minLength: 1, maxLength: 100, default: 'roles', description: 'Claim holding the caller\'s roles (a list).' },
          roleScopes: {
            type: 'object',
            required: [],
            additionalProperties: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 50 },
            default: {},
            description: 'Scopes each role grants, added to the token\'s own `scope`.',
          },
        },
        required: ['issuer', 'audiences', 'algorithms', 'clockSkewSeconds', 'rolesClaim', 'roleScopes'],
        additionalProperties: false,
      },
    },
    maxTokenBytes: { type: 'integer', minimum: 256, maximum: 65_536, default: 8192, description: 'Longest token accepted.' },
    cacheSize: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 10_000, description: 'Verified tokens remembered (never past exp).' },
    jwksCooldownSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 3600,
      default: 30,
      description: 'After a JWKS fetch, unknown key ids wait this long before another fetch (floods of random kids cannot hammer the IdP).',
    },
  },
  required: ['issuers', 'maxTokenBytes', 'cacheSize', 'jwksCooldownSeconds'],
  additionalProperties: false,
};
