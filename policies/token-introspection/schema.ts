/** @module Config schema of `token-introspection` (pure data). */
import type { JSONSchemaType } from 'ajv';

/** A secret named, never given: the environment variable that holds it. */
export interface SecretRef {
  env: string;
}

export interface TokenIntrospectionConfig {
  issuer: string;
  introspectionEndpoint?: string;
  clientId: string;
  clientSecret: SecretRef;
  clientAuthMethod: 'client_secret_basic' | 'client_secret_post';
  audiences: string[];
  tokenTypes: string[];
  clockSkewSeconds: number;
  maxTokenBytes: number;
  cacheMaxEntries: number;
  cacheMaxTtlSeconds: number;
  negativeCacheTtlSeconds: number;
  timeoutMs: number;
}

export const tokenIntrospectionSchema: JSONSchemaType<TokenIntrospectionConfig> = {
  type: 'object',
  description:
    'Checks opaque bearer access tokens by asking the authorization server (RFC 7662 token introspection); fails closed with 503 when it cannot be asked.',
  properties: {
    issuer: {
      type: 'string',
      pattern: '^https?://',
      maxLength: 500,
      description: 'Issuer of the tokens; its OpenID discovery document names the introspection endpoint unless one is configured. Plain http only on loopback.',
    },
    introspectionEndpoint: {
      type: 'string',
      pattern: '^https?://',
      maxLength: 500,
      nullable: true,
      description: 'Introspection endpoint URL; absent: found by OpenID discovery of the issuer. Plain http only on loopback (the client secret travels with every call).',
    },
    clientId: { type: 'string', minLength: 1, maxLength: 200, description: 'Client id the gateway authenticates with at the introspection endpoint.' },
    clientSecret: {
      type: 'object',
      properties: { env: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$', description: 'Environment variable holding the secret.' } },
      required: ['env'],
      additionalProperties: false,
      description: 'The gateway\'s client secret, by reference; resolved when the snapshot is compiled (unset: the snapshot is rejected).',
    },
    clientAuthMethod: {
      type: 'string',
      enum: ['client_secret_basic', 'client_secret_post'],
      default: 'client_secret_basic',
      description: 'How the gateway authenticates at the introspection endpoint.',
    },
    audiences: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 500 },
      maxItems: 20,
      default: [],
      description: 'Accepted `aud` values (any one); empty: the audience is not checked.',
    },
    tokenTypes: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 50 },
      minItems: 1,
      maxItems: 10,
      default: ['Bearer'],
      description: 'Accepted `token_type` values (case-insensitive) when the answer names one; sender-constrained tokens (`cnf`) are always refused.',
    },
    clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 300, default: 30, description: 'Leeway for the `exp` and `nbf` the server reports.' },
    maxTokenBytes: { type: 'integer', minimum: 64, maximum: 16_384, default: 4096, description: 'Longest token sent for introspection.' },
    cacheMaxEntries: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 10_000, description: 'Introspection answers remembered (0: every request asks).' },
    cacheMaxTtlSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 3600,
      default: 60,
      description: 'Longest an active answer is reused, and never past the token\'s `exp`: a revoked token keeps working at most this long.',
    },
    negativeCacheTtlSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 60,
      default: 5,
      description: 'How long a refusal (inactive or unacceptable token) is reused, so a client retrying a dead token cannot make every retry an introspection call (0: not at all).',
    },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 30_000, default: 3000, description: 'Longest wait for the introspection endpoint (and discovery) before failing closed.' },
  },
  required: [
    'issuer',
    'clientId',
    'clientSecret',
    'clientAuthMethod',
    'audiences',
    'tokenTypes',
    'clockSkewSeconds',
    'maxTokenBytes',
    'cacheMaxEntries',
    'cacheMaxTtlSeconds',
    'negativeCacheTtlSeconds',
    'timeoutMs',
  ],
  additionalProperties: false,
};
