/**
 * @module The control-plane store's tables as Kysely types. One code path serves SQLite and
 * PostgreSQL, so columns stick to what both have: text (ids, ISO 8601 UTC timestamps, JSON
 * documents), integer and boolean-as-integer. JSON columns hold `JSON.stringify` text.
 */

export interface TeamsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ApisTable {
  slug: string;
  title: string;
  team_id: string;
  upstream_kind: string;
  base_url: string;
  /** JSON: adapter settings with secret references only. */
  upstream_settings: string;
  /** JSON: { connectTimeoutMs, responseTimeoutMs, retry?, circuitBreaker? }. */
  upstream_options: string;
  created_at: string;
  updated_at: string;
  /** Optimistic concurrency: the ETag is derived from it. */
  revision: number;
}

export interface ApiVersionsTable {
  id: string;
  api_slug: string;
  version: string;
  major: number;
  status: string;
  /** JSON: the OpenAPI 3.0 / 3.1 document. */
  contract: string;
  /** JSON: operations derived from the contract ({ id, method, path }[]). */
  operations: string;
  /** JSON: policy bindings. */
  policies: string;
  created_by: string;
  last_changed_by: string;
  submitted_by: string | null;
  approved_by: string | null;
  /** Reviewer's comment of the last rejection. */
  review_comment: string | null;
  created_at: string;
  updated_at: string;
  revision: number;
  /** ISO 8601 date-time announced on deprecation (the `Sunset` header), or null (003). */
  sunset: string | null;
  /** deprecate: the version consumers should move to (absent in rows written before migration 004's callers). */
  successor?: string | null;
}

export interface VersionTransitionsTable {
  id: string;
  version_id: string;
  from_status: string;
  to_status: string;
  actor: string;
  comment: string | null;
  at: string;
}

export interface PlansTable {
  id: string;
  name: string;
  /** JSON string[]. */
  scopes: string;
  /** JSON PlanLimits or null. */
  limits: string | null;
  created_at: string;
  updated_at: string;
  revision: number;
}

export interface ConsumersTable {
  id: string;
  name: string;
  team_id: string;
  /** JSON string[]: OAuth client ids acting as this consumer. */
  client_ids: string;
  webhook_url: string | null;
  email: string | null;
  /** Standard Webhooks signing secret (`whsec_…`), made when a webhook URL is first set (005). */
  webhook_secret?: string | null;
  /** The system of record this consumer writes for (006). */
  speaks_for?: string | null;
  created_at: string;
  updated_at: string;
  revision: number;
}

export interface ApiKeysTable {
  id: string;
  consumer_id: string;
  prefix: string;
  sha256: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  /** Id of the key issued when this one was rotated (002). */
  replaced_by: string | null;
}

/** One row per OAuth client id: the primary key keeps a client id to one consumer (002). */
export interface ConsumerClientIdsTable {
  client_id: string;
  consumer_id: string;
}

export interface SubscriptionsTable {
  id: string;
  consumer_id: string;
  api_slug: string;
  major: number;
  plan_id: string;
  status: string;
  requested_by: string;
  decided_by: string | null;
  decided_at: string | null;
  comment: string | null;
  created_at: string;
  updated_at: string;
  revision: number;
  /** Who ended the subscription (or withdrew the request), when and why (002). */
  revoked_by: string | null;
  revoked_at: string | null;
  revoke_comment: string | null;
}

export interface AuditEventsTable {
  /** 1, 2, 3, … in chain order (assigned under the chain lock). */
  seq: number;
  id: string;
  at: string;
  actor: string;
  role: string;
  action: string;
  target: string;
  /** JSON or null. */
  before: string | null;
  after: string | null;
  comment: string | null;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

/** One row (id 1) whose lock serialises appends to the audit chain. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface SnapshotsTable {
  hash: string;
  body: string;
  created_at: string;
  /** Increasing: the newest row is the current snapshot. */
  seq: number;
}

export interface GatewayNodesTable {
  node_id: string;
  applied_hash: string | null;
  error: string | null;
  last_seen: string;
}

/** One batch of access records from one gateway node, chained like the admin audit (005). */
export interface AccessBatchesTable {
  seq: number;
  node_id: string;
  batch_id: string;
  received_at: string;
  records: number;
  first_at: string;
  last_at: string;
  prev_hash: string;
  hash: string;
}

export interface AccessBatchHeadTable {
  id: number;
  seq: number;
  hash: string;
  /** Batches up to this seq were purged by retention (007); the kept chain starts after it. */
  base_seq?: number;
  /** The hash the first kept batch chains to (007). */
  base_hash?: string;
}

/** One access record; latencies in integer microseconds so hashes recompute exactly (005). */
export interface AccessRecordsTable {
  batch_seq: number;
  idx: number;
  at: string;
  node_id: string;
  trace_id: string;
  request_id: string;
  api: string | null;
  version: string | null;
  operation: string | null;
  method: string;
  path: string;
  status: number;
  decision: string;
  latency_us: number;
  upstream_latency_us: number | null;
  upstream_status: number | null;
  consumer: string | null;
  subject: string | null;
  client_address: string;
  snapshot_hash: string;
  /** Boolean as 0 / 1. */
  aborted: number;
}

/** The notification outbox: one row per event, consumer and channel (005). */
export interface NotificationsTable {
  id: string;
  /** Shared by the deliveries of one event. */
  event_id: string;
  type: string;
  api: string | null;
  version: string | null;
  consumer_id: string;
  channel: 'webhook' | 'email';
  /** The webhook URL or email address at the time of the event. */
  target: string;
  /** JSON: the event as delivered (`{ type, timestamp, data }`). */
  payload: string;
  /** 0 / 1: the consumer called what the event is about. */
  impacted: number;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string;
  /** A dispatcher holds the row until then. */
  locked_until: string | null;
  created_at: string;
  delivered_at: string | null;
  last_error: string | null;
  /** Keeps scheduled events (sunset reminders) to one row each. */
  dedupe_key: string | null;
}

export interface NotificationAttemptsTable {
  id: string;
  notification_id: string;
  attempt: number;
  at: string;
  outcome: 'delivered' | 'failed';
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

/** The system-of-record registry: one row (id 1) holding the document (006). */
export interface OwnershipRegistryTable {
  id: number;
  /** JSON: { systems, entities, grants (each with an id) }. */
  document: string;
  revision: number;
  updated_at: string;
  updated_by: string;
}

export interface Database {
  teams: TeamsTable;
  apis: ApisTable;
  api_versions: ApiVersionsTable;
  version_transitions: VersionTransitionsTable;
  plans: PlansTable;
  consumers: ConsumersTable;
  api_keys: ApiKeysTable;
  consumer_client_ids: ConsumerClientIdsTable;
  subscriptions: SubscriptionsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  snapshots: SnapshotsTable;
  gateway_nodes: GatewayNodesTable;
  access_batches: AccessBatchesTable;
  access_batch_head: AccessBatchHeadTable;
  access_records: AccessRecordsTable;
  notifications: NotificationsTable;
  notification_attempts: NotificationAttemptsTable;
  ownership_registry: OwnershipRegistryTable;
}
