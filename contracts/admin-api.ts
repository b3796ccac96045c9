/**
 * @module The admin API's request bodies: each body's type and its JSON Schema (pure data), which
 * the control plane validates with ajv (`bodyValidator`) and publishes in its OpenAPI document,
 * and which a client (the web admin, scripts) can use to check or render a form. Where a body
 * carries what the snapshot carries (an upstream, a plan's limits, a version number), the schema
 * is the snapshot's own (contracts/snapshot.ts), so what the admin API accepts every gateway can
 * enforce.
 */
import type { JSONSchemaType } from 'ajv';
import { ownershipSchema, snapshotSchema, upstreamSchema, versionSchema, type EnrichmentGrantSpec, type OwnedEntitySpec, type OwningSystemSpec, type PlanLimits, type PolicyBinding, type UpstreamSpec, UPSTREAM_KINDS } from './snapshot.js';

/** Ids of teams, APIs, plans and consumers: lower-case slugs. */
const SLUG = '^[a-z0-9][a-z0-9-]{0,62}$';

// ---------------------------------------------------------------------------------------------
// Teams.

/** POST /teams. */
export interface TeamInput {
  id: string;
  name: string;
}

export const teamInputSchema: JSONSchemaType<TeamInput> = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: SLUG },
    name: { type: 'string', minLength: 1, maxLength: 200 },
  },
  required: ['id', 'name'],
  additionalProperties: false,
};

// ---------------------------------------------------------------------------------------------
// APIs.

/** POST /apis. */
export interface ApiInput {
  slug: string;
  title: string;
  team: string;
  upstream: UpstreamSpec;
}

/** PATCH /apis/{api}: the fields to change; `upstream` is replaced as a whole. */
export interface ApiPatch {
  title?: string;
  team?: string;
  upstream?: UpstreamSpec;
}

/**
 * The snapshot's own upstream schema, so an API the admin API accepts is one the snapshot
 * accepts: kind, base URL, timeouts, retry and circuit breaker.
 */
const apiUpstreamSchema = {
  ...upstreamSchema,
  description: `Where every version of the API forwards to. kind: ${UPSTREAM_KINDS.join(', ')}. settings are the adapter's; secrets only as { "env": "NAME" } references.`,
};

const apiSlugSchema = { type: 'string', pattern: SLUG, description: 'First path segment at the gateway; never changes.' };
const apiTitleSchema = { type: 'string', minLength: 1, maxLength: 200, description: 'Display title.' };
const apiTeamSchema = { type: 'string', pattern: SLUG, description: 'Id of the owning team.' };

export const apiInputSchema = {
  type: 'object',
  properties: { slug: apiSlugSchema, title: apiTitleSchema, team: apiTeamSchema, upstream: apiUpstreamSchema },
  required: ['slug', 'title', 'team', 'upstream'],
  additionalProperties: false,
};

export const apiPatchSchema = {
  type: 'object',
  description: 'Fields to change; `upstream` is replaced as a whole. The slug never changes.',
  properties: { title: apiTitleSchema, team: apiTeamSchema, upstream: apiUpstreamSchema },
  minProperties: 1,
  additionalProperties: false,
};

// ---------------------------------------------------------------------------------------------
// API versions and their lifecycle.

/** The lifecycle actions, each `POST /apis/{api}/versions/{version}/{action}`. */
export const LIFECYCLE_ACTIONS = ['submit', 'approve', 'reject', 'publish', 'deprecate', 'retire'] as const;
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];

/** POST /apis/{api}/versions. */
export interface VersionInput {
  version: string;
  /** OpenAPI 3.0 / 3.1: a JSON object, or YAML or JSON text. */
  contract: unknown;
  policies?: PolicyBinding[];
}

/** PATCH of a draft: contract and / or policy bindings, each replaced as a whole. */
export interface VersionPatch {
  contract?: unknown;
  policies?: PolicyBinding[];
}

/** The body of a lifecycle action. */
export interface TransitionInput {
  comment?: string;
  /** deprecate only: ISO 8601 date or date-time, in the future. */
  sunset?: string;
  /** deprecate only: the later version of the same API consumers should move to. */
  successor?: string;
  /** retire only: an admin retires before the announced sunset (the comment gives the reason). */
  beforeSunset?: boolean;
}

const contractSchema = {
  type: ['object', 'string'],
  maxLength: 4_000_000,
  description: 'The OpenAPI 3.0.x / 3.1.x contract: a JSON object, or YAML (or JSON) text. Each operation needs an operationId; the version\'s operations are derived from it.',
};

const policiesSchema = {
  type: 'array',
  maxItems: 100,
  description: 'Policy bindings of the version; each config is checked against the policy\'s schema (defaults are applied when checking, not stored).',
  items: {
    type: 'object',
    properties: {
      policy: { type: 'string', pattern: '^[a-z][a-z0-9-]*$', description: 'Policy name, e.g. rbac.' },
      config: { type: 'object', description: 'The policy config.' },
    },
    required: ['policy', 'config'],
    additionalProperties: false,
  },
};

/** MAJOR.MINOR.PATCH[-prerelease]: the snapshot's own version pattern. */
const SEMVER_PATTERN: string = (versionSchema.properties as unknown as { version: { pattern: string } }).version.pattern;

export const versionInputSchema = {
  type: 'object',
  properties: {
    version: { type: 'string', maxLength: 64, pattern: SEMVER_PATTERN, description: 'Semantic version MAJOR.MINOR.PATCH[-prerelease], unique per API; the major is the gateway path\'s v{major}.' },
    contract: contractSchema,
    policies: policiesSchema,
  },
  required: ['version', 'contract'],
  additionalProperties: false,
};

export const versionPatchSchema = {
  type: 'object',
  description: 'A draft\'s contract and / or policy bindings, each replaced as a whole.',
  properties: { contract: contractSchema, policies: policiesSchema },
  minProperties: 1,
  additionalProperties: false,
};

const commentSchema = { type: 'string', minLength: 1, maxLength: 4000, description: 'Recorded with the transition.' };

/** The body schema of one lifecycle action: reject requires a comment; only deprecate takes `sunset`. */
export function transitionInputSchema(action: LifecycleAction): object {
  return {
    type: 'object',
    properties: {
      comment: commentSchema,
      ...(action === 'deprecate' ? { sunset: { type: 'string', anyOf: [{ format: 'date' }, { format: 'date-time' }], description: 'When the version will be retired (ISO 8601 date or date-time, in the future); gateways announce it in the Sunset header.' } } : {}),
      ...(action === 'deprecate' ? { successor: { type: 'string', minLength: 5, maxLength: 64, description: 'A later version of this API that consumers should move to (default: the nearest higher published major).' } } : {}),
      ...(action === 'retire'
        ? { beforeSunset: { type: 'boolean', description: 'Admins only: retire before the announced sunset; `comment` must give the reason, which is recorded.' } }
        : {}),
    },
    required: action === 'reject' ? ['comment'] : [],
    additionalProperties: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Plans.

/** POST /plans. */
export interface PlanInput {
  id: string;
  name: string;
  scopes: string[];
  /** Absent or null: no rate or quota. */
  limits?: PlanLimits | null;
}

/** PATCH body: the fields to change; `limits: null` removes every limit. */
export interface PlanPatch {
  name?: string;
  scopes?: string[];
  limits?: PlanLimits | null;
}

/** The snapshot's schema of one plan, picked apart (its constraints are the gateway's). */
const snapshotPlan = (snapshotSchema as unknown as { properties: { plans: { items: { properties: { id: object; name: object; scopes: { items: object } & object; limits: object } } } } })
  .properties.plans.items.properties;

/** A plan's fields but its id. */
const planFields = {
  name: { ...snapshotPlan.name, minLength: 1, description: 'Display name, e.g. "Standard (100/min)".' },
  scopes: {
    ...snapshotPlan.scopes,
    uniqueItems: true,
    // RFC 6749 §3.3 scope-token characters.
    items: { ...snapshotPlan.scopes.items, pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' },
    description: 'Scopes the plan grants; a token scope counts only where the plan grants it too.',
  },
  limits: {
    ...snapshotPlan.limits,
    description: 'Rates (requests per fixed window) and quotas (per UTC day / month), counted per consumer + API + major + plan; onStoreFailure: failOpen | failClosed when Redis is unreachable. Null or absent: unlimited.',
  },
};

export const planInputSchema = {
  type: 'object',
  description: 'A plan.',
  properties: {
    id: { ...snapshotPlan.id, description: 'Slug, unique; referenced by subscriptions and the snapshot.' },
    ...planFields,
  },
  required: ['id', 'name', 'scopes'],
  additionalProperties: false,
} as const;

export const planPatchSchema = {
  type: 'object',
  description: 'The plan fields to change (the id never changes).',
  properties: planFields,
  minProperties: 1,
  additionalProperties: false,
} as const;

// ---------------------------------------------------------------------------------------------
// Consumers and their credentials (API keys).

/** POST /consumers. */
export interface ConsumerInput {
  id: string;
  name: string;
  team: string;
  clientIds?: string[];
  webhookUrl?: string | null;
  email?: string | null;
  /** The system of record the consumer writes for (a system of `/ownership`). */
  speaksFor?: string | null;
}

/** PATCH /consumers/{id}. */
export interface ConsumerPatch {
  name?: string;
  team?: string;
  clientIds?: string[];
  /** null clears it. */
  webhookUrl?: string | null;
  /** null clears it. */
  email?: string | null;
  /** null clears it. */
  speaksFor?: string | null;
}

const consumerFields = {
  name: { type: 'string', minLength: 1, maxLength: 200, description: 'The application, e.g. "Web shop".' },
  team: { type: 'string', pattern: SLUG, description: 'Owning team id; its owners manage the consumer.' },
  clientIds: {
    type: 'array',
    items: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7E]+$' },
    uniqueItems: true,
    maxItems: 50,
    nullable: true,
    description: 'OAuth client ids (`client_id` / `azp` of tokens) that act as this consumer; each belongs to one consumer only. Default [].',
  },
  webhookUrl: { type: 'string', format: 'uri', maxLength: 2000, nullable: true, description: 'Where notifications are sent: https, or http on loopback only; no user info. Null clears it.' },
  email: { type: 'string', format: 'email', maxLength: 254, nullable: true, description: 'Contact address for notifications. Null clears it.' },
  speaksFor: { type: 'string', pattern: '^[a-z][a-z0-9._-]{0,63}$', nullable: true, description: 'The system of record (a system id of /ownership) this consumer writes for; the ownership policy lets it write what that system owns. Null clears it.' },
} as const;

export const consumerInputSchema: JSONSchemaType<ConsumerInput> = {
  type: 'object',
  description: 'A consumer: an application of a team.',
  properties: {
    id: { type: 'string', pattern: SLUG, description: 'Slug, unique; the gateway names the consumer by it.' },
    ...consumerFields,
  },
  required: ['id', 'name', 'team'],
  additionalProperties: false,
};

/** PATCH body; not `JSONSchemaType`, which would force `nullable` on name, team and clientIds. */
export const consumerPatchSchema = {
  type: 'object',
  description: 'The consumer fields to change (the id never changes).',
  properties: {
    name: consumerFields.name,
    team: consumerFields.team,
    clientIds: { ...consumerFields.clientIds, nullable: false },
    webhookUrl: consumerFields.webhookUrl,
    email: consumerFields.email,
    speaksFor: consumerFields.speaksFor,
  },
  minProperties: 1,
  additionalProperties: false,
} as const;

/** Longest rotation grace: a week. */
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

/** POST /consumers/{id}/credentials (the body may be omitted). */
export interface CredentialInput {
  /** ISO 8601, in the future; absent: no expiry. */
  expiresAt?: string;
}

/** POST …/credentials/{keyId}/rotate (the body may be omitted). */
export interface RotateInput extends CredentialInput {
  /** Seconds the old key stays valid (as an expiry); 0 (default): revoked at once. */
  graceSeconds?: number;
}

/** POST …/credentials/{keyId}/revoke (the body may be omitted). */
export interface RevokeKeyInput {
  comment?: string;
}

const expiresAtField = { type: 'string', format: 'date-time', nullable: true, description: 'When the new key stops working (ISO 8601, in the future). Absent: never.' } as const;

export const credentialInputSchema: JSONSchemaType<CredentialInput> = {
  type: 'object',
  description: 'Options of a new API key (the body may be omitted).',
  properties: { expiresAt: expiresAtField },
  required: [],
  additionalProperties: false,
};

export const rotateInputSchema: JSONSchemaType<RotateInput> = {
  type: 'object',
  description: 'Rotation: a new key, and the old one revoked at once or kept valid for a grace period (the body may be omitted).',
  properties: {
    expiresAt: expiresAtField,
    graceSeconds: { type: 'integer', minimum: 0, maximum: MAX_GRACE_SECONDS, nullable: true, default: 0, description: 'Seconds the old key keeps working (its expiry is set to now + grace, never later than it was). 0: revoked at once.' },
  },
  required: [],
  additionalProperties: false,
};

export const revokeKeyInputSchema: JSONSchemaType<RevokeKeyInput> = {
  type: 'object',
  description: 'Why the key is revoked (kept in the audit event; the body may be omitted).',
  properties: { comment: { type: 'string', minLength: 1, maxLength: 2000, nullable: true } },
  required: [],
  additionalProperties: false,
};

// ---------------------------------------------------------------------------------------------
// Subscriptions.

/** POST /subscriptions: a consumer asks for one major of an API under a plan. */
export interface SubscriptionInput {
  consumer: string;
  api: string;
  major: number;
  plan: string;
}

export const subscriptionInputSchema: JSONSchemaType<SubscriptionInput> = {
  type: 'object',
  description: 'A subscription request: the consumer, the API and its major, the plan.',
  properties: {
    consumer: { type: 'string', pattern: SLUG, description: 'Consumer id; the caller must own its team.' },
    api: { type: 'string', pattern: SLUG, description: 'API slug.' },
    major: { type: 'integer', minimum: 0, maximum: 10_000, description: 'Major version (the gateway path\'s v{major}); needs a published version.' },
    plan: { type: 'string', pattern: SLUG, description: 'Plan id.' },
  },
  required: ['consumer', 'api', 'major', 'plan'],
  additionalProperties: false,
};

/** POST /subscriptions/{id}/approve | reject | revoke (a rejection requires the comment). */
export interface DecisionInput {
  comment?: string;
}

const decisionCommentField = { type: 'string', minLength: 1, maxLength: 2000, pattern: '\\S', nullable: true, description: 'Why; shown to the consumer team and kept in the audit.' } as const;

export const decisionInputSchema: JSONSchemaType<DecisionInput> = {
  type: 'object',
  description: 'An optional comment (the body may be omitted).',
  properties: { comment: decisionCommentField },
  required: [],
  additionalProperties: false,
};

export const rejectionInputSchema: JSONSchemaType<Required<DecisionInput>> = {
  type: 'object',
  description: 'A rejection says why.',
  properties: { comment: { ...decisionCommentField, nullable: false } },
  required: ['comment'],
  additionalProperties: false,
};

// ---------------------------------------------------------------------------------------------
// Gateway nodes.

/** PUT /gateway/nodes/{nodeId}: what a gateway node runs. */
export interface NodeReport {
  /** Hash of the snapshot the node serves now; null or absent before it has applied any. */
  appliedHash?: string | null;
  /** Why the last snapshot it was given did not apply (the node kept `appliedHash`). */
  error?: string;
}

export const nodeReportSchema: JSONSchemaType<NodeReport> = {
  type: 'object',
  description: 'What a gateway node runs, reported after every apply attempt and as a heartbeat.',
  properties: {
    appliedHash: { type: 'string', nullable: true, pattern: '^[0-9a-f]{64}$', description: 'Hash of the snapshot the node serves; null (or absent) before its first.' },
    error: { type: 'string', nullable: true, maxLength: 2000, description: 'Why the last snapshot offered did not apply; absent when it did.' },
  },
  required: [],
  additionalProperties: false,
};

// ---------------------------------------------------------------------------------------------
// The system-of-record registry (/api/v1/ownership).

/** An enrichment grant as the admin API keeps it: with an id to revoke it by. */
export interface OwnershipGrant extends EnrichmentGrantSpec {
  id: string;
}

/** GET / PUT /ownership: the whole registry. */
export interface OwnershipDocument {
  systems: OwningSystemSpec[];
  entities: OwnedEntitySpec[];
  grants: OwnershipGrant[];
}

/** POST /ownership/grants. */
export type GrantInput = EnrichmentGrantSpec;

const grantItems = ownershipSchema.properties.grants.items;

export const grantInputSchema = {
  ...grantItems,
  description: 'An enrichment grant: the consumer may write these canonical fields of the entity without owning it.',
} as const;

export const ownedEntitySchema = {
  ...ownershipSchema.properties.entities.items,
  description: 'A business entity: its owning system, per-field owners where ownership is split, and where it lives upstream.',
} as const;

export const ownershipDocumentSchema = {
  type: 'object',
  description: 'The system-of-record registry. PUT replaces it whole (If-Match).',
  properties: {
    systems: ownershipSchema.properties.systems,
    entities: ownershipSchema.properties.entities,
    grants: {
      ...ownershipSchema.properties.grants,
      items: { ...grantItems, properties: { ...grantItems.properties, id: { type: 'string', pattern: '^grant_[A-Za-z0-9_-]{1,64}$' } }, required: [...grantItems.required, 'id'] },
    },
  },
  required: ['systems', 'entities', 'grants'],
  additionalProperties: false,
} as const;
