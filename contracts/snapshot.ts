/**
 * @module The snapshot: the one immutable document through which governance reaches the
 * gateway. Its JSON Schema is typed with ajv's `JSONSchemaType`, so the compiler keeps the
 * schema and the type in step.
 */
import type { JSONSchemaType } from 'ajv';

export const SNAPSHOT_FORMAT_VERSION = 1;

export type UpstreamKind = 'odoo-json2' | 'odoo-jsonrpc' | 'salesforce' | 'zendesk' | 'servicenow' | 'http';
export const UPSTREAM_KINDS: readonly UpstreamKind[] = [
  'odoo-json2',
  'odoo-jsonrpc',
  'salesforce',
  'zendesk',
  'servicenow',
  'http',
];

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
/** What an operation id may be; policies keying settings by operation id check names against it. */
export const OPERATION_ID_PATTERN = '^[A-Za-z0-9_.-]{1,128}$';

export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export type VersionStatus = 'published' | 'deprecated' | 'retired';

/** A policy attached to a version (or to the whole gateway) with its config. */
export interface PolicyBinding {
  /** Registered policy name, e.g. `request-hygiene`. */
  policy: string;
  /** Validated against the policy's `schema.ts` when the snapshot compiles. */
  config: Record<string, unknown>;
}

/** One operation a version declares; only declared operations pass the gateway. */
export interface OperationSpec {
  /** Stable id (the contract's `operationId`), used in records and metrics. */
  id: string;
  method: HttpMethod;
  /**
   * Path below the version prefix, as appended to the upstream base URL. `{name}` matches
   * within one segment, e.g. `/sale.order/{method}`, `/sobjects/Account/{id}`, `/tickets/{id}.json`.
   */
  path: string;
}

/** Where a version's traffic goes and how the gateway talks to it. */
export interface UpstreamSpec {
  kind: UpstreamKind;
  /** `http(s)://host[:port][/base/path]`; `{rest}` of the gateway path is appended. */
  baseUrl: string;
  /** Time allowed to open the TCP connection. */
  connectTimeoutMs: number;
  /** Time allowed without a byte from the upstream once the request is sent. */
  responseTimeoutMs: number;
  /**
   * Adapter settings, validated against the adapter's schema at compile time. Secrets appear
   * only as references (`{ "env": "ODOO_API_KEY" }`), never inline.
   */
  settings: Record<string, unknown>;
  /** Absent: one retry (see `RetrySpec` defaults). */
  retry?: RetrySpec;
  /** Absent: a breaker with the `CircuitBreakerSpec` defaults. */
  circuitBreaker?: CircuitBreakerSpec;
}

/**
 * Sending a failed request again: only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE)
 * and POST / PATCH carrying an `Idempotency-Key`, and only when the body is at hand.
 */
export interface RetrySpec {
  /** Extra attempts after the first (0 = never retry). Default 1. */
  attempts: number;
  /** First backoff (exponential with decorrelated jitter). Default 100. */
  baseDelayMs: number;
  /** Longest backoff. Default 2000. */
  maxDelayMs: number;
  /** Upstream statuses worth another attempt, besides refused / reset / timed-out connections. Default [502, 503, 504]. */
  statuses: number[];
}

/** One breaker per upstream origin, shared by every version and snapshot that uses it. */
export interface CircuitBreakerSpec {
  /** Default true. */
  enabled: boolean;
  /** Consecutive failures (refused, timed out, 502/503/504) that open it. Default 5. */
  consecutiveFailures: number;
  /** Time open before one trial request is let through (half-open). Default 10000. */
  halfOpenAfterMs: number;
}

export const DEFAULT_RETRY: Readonly<RetrySpec> = Object.freeze({ attempts: 1, baseDelayMs: 100, maxDelayMs: 2000, statuses: [502, 503, 504] });
export const DEFAULT_CIRCUIT_BREAKER: Readonly<CircuitBreakerSpec> = Object.freeze({ enabled: true, consecutiveFailures: 5, halfOpenAfterMs: 10_000 });

export interface ApiVersionSpec {
  /** Semver of the contract; its major is the gateway path's `v{major}`. */
  version: string;
  status: VersionStatus;
  upstream: UpstreamSpec;
  operations: OperationSpec[];
  policies: PolicyBinding[];
  /**
   * The version's published contract: an OpenAPI 3.0 or 3.1 document (JSON). Policies that
   * enforce it (contract validation, scopes) compile it with the snapshot.
   */
  contract?: Record<string, unknown>;
  /** When the version was deprecated (ISO 8601); the gateway sends it as `Deprecation` (RFC 9745). */
  deprecatedAt?: string;
  /** When it stops being served (ISO 8601); sent as `Sunset` (RFC 8594). */
  sunset?: string;
  /** Gateway path of the version to move to, e.g. `/erp-sales/v2`; sent as `Link: <…>; rel="successor-version"`. */
  successor?: string;
}

export interface ApiSpec {
  /** First path segment at the gateway, e.g. `erp-orders`. */
  slug: string;
  title: string;
  versions: ApiVersionSpec[];
}

/** Requests allowed per window (a sliding-free fixed window of `windowSeconds`). */
export interface RateLimitSpec {
  requests: number;
  windowSeconds: number;
}

/** Requests allowed per calendar day or month (UTC). */
export interface QuotaSpec {
  requests: number;
  period: 'day' | 'month';
}

/** Rates and quotas of a plan, counted per consumer + API + plan. */
export interface PlanLimits {
  rates: RateLimitSpec[];
  quotas: QuotaSpec[];
  /**
   * When the shared counter store (Redis) is unreachable: `failOpen` counts per node and lets
   * traffic through (logged, counted), `failClosed` answers 503 `limit.store_unavailable`.
   */
  onStoreFailure: 'failOpen' | 'failClosed';
}

/** What a consumer may do under a subscription. */
export interface PlanSpec {
  id: string;
  name: string;
  /** Scopes the plan grants; a token's scopes count only where the plan grants them too. */
  scopes: string[];
  /** Absent: no rate or quota. */
  limits?: PlanLimits;
}

/** An active subscription (the snapshot carries no other kind). */
export interface SubscriptionSpec {
  api: string;
  major: number;
  plan: string;
}

/** An API key as the snapshot carries it: never the key, only its hash. */
export interface ApiKeySpec {
  id: string;
  /** The key's first characters (not secret), used to find it and shown in the admin. */
  prefix: string;
  /** SHA-256 (hex) of the whole key. */
  sha256: string;
  /** ISO 8601; absent: no expiry. */
  expiresAt?: string;
  revoked: boolean;
}

export interface ConsumerSpec {
  id: string;
  name: string;
  team: string;
  /** OAuth client ids (`client_id` / `azp` of its tokens) that act as this consumer. */
  clientIds: string[];
  apiKeys: ApiKeySpec[];
  subscriptions: SubscriptionSpec[];
  /** The system of record this consumer writes for (`erp`, `crm`, `service-desk`), when it is one's integration. */
  speaksFor?: string;
}

/**
 * A system of record: the business system that owns records (`erp`), and the upstream
 * adapters' `system` values that are it (`odoo`), so a write through any of them counts as its own.
 */
export interface OwningSystemSpec {
  id: string;
  name: string;
  upstreams: string[];
}

/** Where a business entity lives in one upstream: adapter system, model / object, field names. */
export interface EntityMappingSpec {
  /** The adapter's `system` (`odoo`, `salesforce`, `zendesk`, `servicenow`). */
  upstream: string;
  /** Model or object: `account.move`, `Invoice__c`, `ticket`. */
  model: string;
  /** Upstream field → canonical field where the names differ (`Payment_State__c` → `payment_state`); others keep their name. */
  fields: Record<string, string>;
}

/** A business entity, its owning system, per-field owners where ownership is split, and its upstream mappings. */
export interface OwnedEntitySpec {
  /** `customer`, `product`, `price`, `inventory`, `order`, `invoice`, `payment`, `case`, … */
  name: string;
  /** Owning system id. */
  owner: string;
  /** Canonical field → owning system id, where it differs from `owner`. */
  fieldOwners: Record<string, string>;
  mappings: EntityMappingSpec[];
}

/** An enrichment grant: the consumer may write these canonical fields of the entity without owning it. */
export interface EnrichmentGrantSpec {
  consumer: string;
  entity: string;
  fields: string[];
}

/** The system-of-record registry, compiled by the control plane from `/api/v1/ownership`. */
export interface OwnershipSpec {
  systems: OwningSystemSpec[];
  entities: OwnedEntitySpec[];
  grants: EnrichmentGrantSpec[];
}

/** Gateway-wide settings: policies that run on every request, before routing. */
export interface GatewaySettings {
  policies: PolicyBinding[];
}

export interface Snapshot {
  formatVersion: number;
  /** SHA-256 (hex) of the canonical JSON (RFC 8785) of the snapshot without `hash`. */
  hash: string;
  generatedAt: string;
  gateway: GatewaySettings;
  apis: ApiSpec[];
  plans: PlanSpec[];
  consumers: ConsumerSpec[];
  /** The system-of-record registry the `ownership` policy enforces; absent: no registry (every governed write is refused). */
  ownership?: OwnershipSpec;
}

const ID = '^[a-z][a-z0-9._-]{0,63}$';
const fieldMapSchema = { type: 'object', maxProperties: 2000, required: [], additionalProperties: { type: 'string', minLength: 1, maxLength: 200 } } as const;

export const ownershipSchema: JSONSchemaType<OwnershipSpec> = {
  type: 'object',
  description: 'The system-of-record registry: owning systems, entities with their owners and upstream mappings, enrichment grants.',
  properties: {
    systems: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', pattern: ID },
          name: { type: 'string', minLength: 1, maxLength: 200 },
          upstreams: { type: 'array', maxItems: 20, items: { type: 'string', minLength: 1, maxLength: 50 } },
        },
        required: ['id', 'name', 'upstreams'],
        additionalProperties: false,
      },
    },
    entities: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', pattern: ID },
          owner: { type: 'string', pattern: ID },
          fieldOwners: { ...fieldMapSchema, additionalProperties: { type: 'string', pattern: ID } },
          mappings: {
            type: 'array',
            maxItems: 50,
            items: {
              type: 'object',
              properties: {
                upstream: { type: 'string', minLength: 1, maxLength: 50 },
                model: { type: 'string', minLength: 1, maxLength: 200 },
                fields: fieldMapSchema,
              },
              required: ['upstream', 'model', 'fields'],
              additionalProperties: false,
            },
          },
        },
        required: ['name', 'owner', 'fieldOwners', 'mappings'],
        additionalProperties: false,
      },
    },
    grants: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        properties: {
          consumer: { type: 'string', minLength: 1, maxLength: 200 },
          entity: { type: 'string', pattern: ID },
          fields: { type: 'array', minItems: 1, maxItems: 500, items: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        required: ['consumer', 'entity', 'fields'],
        additionalProperties: false,
      },
    },
  },
  required: ['systems', 'entities', 'grants'],
  additionalProperties: false,
};

const policyBindingSchema: JSONSchemaType<PolicyBinding> = {
  type: 'object',
  description: 'A policy and its config.',
  properties: {
    policy: { type: 'string', pattern: '^[a-z][a-z0-9-]*$', description: 'Registered policy name.' },
    config: { type: 'object', description: 'Policy config, checked against the policy schema.', required: [] },
  },
  required: ['policy', 'config'],
  additionalProperties: false,
};

/** Schema of a version's upstream; the admin API's API bodies reuse it (contracts/admin-api.ts). */
export const upstreamSchema: JSONSchemaType<UpstreamSpec> = {
  type: 'object',
  properties: {
    kind: { type: 'string', enum: [...UPSTREAM_KINDS], description: 'Upstream adapter kind.' },
    baseUrl: { type: 'string', pattern: '^https?://[^\\s?#]+$', description: 'Upstream base URL.' },
    connectTimeoutMs: { type: 'integer', minimum: 1, maximum: 120_000, description: 'Connect timeout.' },
    responseTimeoutMs: { type: 'integer', minimum: 1, maximum: 600_000, description: 'Response timeout.' },
    settings: { type: 'object', description: 'Adapter settings.', required: [] },
    retry: {
      type: 'object',
      nullable: true,
      description: 'Retries of idempotent requests.',
      properties: {
        attempts: { type: 'integer', minimum: 0, maximum: 5 },
        baseDelayMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        maxDelayMs: { type: 'integer', minimum: 0, maximum: 300_000 },
        statuses: { type: 'array', items: { type: 'integer', minimum: 500, maximum: 599 }, maxItems: 20 },
      },
      required: ['attempts', 'baseDelayMs', 'maxDelayMs', 'statuses'],
      additionalProperties: false,
    },
    circuitBreaker: {
      type: 'object',
      nullable: true,
      description: 'Circuit breaker of the upstream.',
      properties: {
        enabled: { type: 'boolean' },
        consecutiveFailures: { type: 'integer', minimum: 1, maximum: 10_000 },
        halfOpenAfterMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
      },
      required: ['enabled', 'consecutiveFailures', 'halfOpenAfterMs'],
      additionalProperties: false,
    },
  },
  required: ['kind', 'baseUrl', 'connectTimeoutMs', 'responseTimeoutMs', 'settings'],
  additionalProperties: false,
};

const operationSchema: JSONSchemaType<OperationSpec> = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: OPERATION_ID_PATTERN, description: 'Operation id.' },
    method: { type: 'string', enum: [...HTTP_METHODS], description: 'HTTP method.' },
    path: {
      type: 'string',
      pattern: '^(/([A-Za-z0-9._~!$&\'()*+,;=:@-]|\\{[A-Za-z_][A-Za-z0-9_]*\\})+)+/?$|^/$',
      description: 'Path template below the version prefix.',
    },
  },
  required: ['id', 'method', 'path'],
  additionalProperties: false,
};

/** Schema of one published version; the admin API takes its semver pattern (contracts/admin-api.ts). */
export const versionSchema: JSONSchemaType<ApiVersionSpec> = {
  type: 'object',
  properties: {
    version: { type: 'string', pattern: '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$' },
    status: { type: 'string', enum: ['published', 'deprecated', 'retired'] },
    upstream: upstreamSchema,
    operations: { type: 'array', items: operationSchema, maxItems: 5000 },
    policies: { type: 'array', items: policyBindingSchema, maxItems: 100 },
    contract: { type: 'object', nullable: true, required: [], description: 'OpenAPI 3.0 / 3.1 document of the version.' },
    deprecatedAt: { type: 'string', format: 'date-time', nullable: true, description: 'When the version was deprecated.' },
    sunset: { type: 'string', format: 'date-time', nullable: true, description: 'When the version stops being served.' },
    successor: { type: 'string', pattern: '^/[a-z0-9][a-z0-9-]{0,62}/v(0|[1-9][0-9]{0,5})$', nullable: true, description: 'Gateway path of the successor version.' },
  },
  required: ['version', 'status', 'upstream', 'operations', 'policies'],
  additionalProperties: false,
};

/** JSON Schema of the snapshot (draft 2019-09 subset ajv understands by default). */
export const snapshotSchema: JSONSchemaType<Snapshot> = {
  $id: 'https://gatehouse.dev/schemas/snapshot.json',
  type: 'object',
  properties: {
    formatVersion: { type: 'integer', const: SNAPSHOT_FORMAT_VERSION },
    hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    generatedAt: { type: 'string', format: 'date-time' },
    gateway: {
      type: 'object',
      properties: { policies: { type: 'array', items: policyBindingSchema, maxItems: 100 } },
      required: ['policies'],
      additionalProperties: false,
    },
    apis: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        properties: {
          slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
          title: { type: 'string', maxLength: 200 },
          versions: { type: 'array', items: versionSchema, minItems: 1, maxItems: 100 },
        },
        required: ['slug', 'title', 'versions'],
        additionalProperties: false,
      },
    },
    plans: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
          name: { type: 'string', maxLength: 200 },
          scopes: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 500 },
          limits: {
            type: 'object',
            nullable: true,
            properties: {
              rates: {
                type: 'array',
                maxItems: 10,
                items: {
                  type: 'object',
                  properties: {
                    requests: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
                    windowSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
                  },
                  required: ['requests', 'windowSeconds'],
                  additionalProperties: false,
                },
              },
              quotas: {
                type: 'array',
                maxItems: 2,
                items: {
                  type: 'object',
                  properties: {
                    requests: { type: 'integer', minimum: 1, maximum: 1_000_000_000_000 },
                    period: { type: 'string', enum: ['day', 'month'] },
                  },
                  required: ['requests', 'period'],
                  additionalProperties: false,
                },
              },
              onStoreFailure: { type: 'string', enum: ['failOpen', 'failClosed'] },
            },
            required: ['rates', 'quotas', 'onStoreFailure'],
            additionalProperties: false,
          },
        },
        required: ['id', 'name', 'scopes'],
        additionalProperties: false,
      },
    },
    consumers: {
      type: 'array',
      maxItems: 100_000,
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 128 },
          name: { type: 'string', maxLength: 200 },
          team: { type: 'string', maxLength: 200 },
          clientIds: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 50 },
          apiKeys: {
            type: 'array',
            maxItems: 50,
            items: {
              type: 'object',
              properties: {
                id: { type: 'string', minLength: 1, maxLength: 128 },
                prefix: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,32}$' },
                sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
                expiresAt: { type: 'string', format: 'date-time', nullable: true },
                revoked: { type: 'boolean' },
              },
              required: ['id', 'prefix', 'sha256', 'revoked'],
              additionalProperties: false,
            },
          },
          subscriptions: {
            type: 'array',
            maxItems: 1000,
            items: {
              type: 'object',
              properties: {
                api: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
                major: { type: 'integer', minimum: 0 },
                plan: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
              },
              required: ['api', 'major', 'plan'],
              additionalProperties: false,
            },
          },
          speaksFor: { type: 'string', pattern: '^[a-z][a-z0-9._-]{0,63}$', nullable: true, description: 'The system of record the consumer writes for.' },
        },
        required: ['id', 'name', 'team', 'clientIds', 'apiKeys', 'subscriptions'],
        additionalProperties: false,
      },
    },
    ownership: { ...ownershipSchema, nullable: true },
  },
  required: ['formatVersion', 'hash', 'generatedAt', 'gateway', 'apis', 'plans', 'consumers'],
  additionalProperties: false,
};
