/**
 * @module Versioned migrations of the control-plane store, run at start (Kysely `Migrator`
 * with a static provider, so they ship inside the build). Portable SQL only: SQLite and
 * PostgreSQL run the same statements. Never edit a released migration; add the next one.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { RETAIL_OWNERSHIP_DEFAULTS } from '../ownership/retail-defaults.js';

const m001: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('teams')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('apis')
      .addColumn('slug', 'text', (c) => c.primaryKey())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
      .addColumn('upstream_kind', 'text', (c) => c.notNull())
      .addColumn('base_url', 'text', (c) => c.notNull())
      .addColumn('upstream_settings', 'text', (c) => c.notNull())
      .addColumn('upstream_options', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('api_versions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('api_slug', 'text', (c) => c.notNull().references('apis.slug'))
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('major', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('contract', 'text', (c) => c.notNull())
      .addColumn('operations', 'text', (c) => c.notNull())
      .addColumn('policies', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('last_changed_by', 'text', (c) => c.notNull())
      .addColumn('submitted_by', 'text')
      .addColumn('approved_by', 'text')
      .addColumn('review_comment', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addUniqueConstraint('api_versions_api_version', ['api_slug', 'version'])
      .execute();
    await db.schema
      .createTable('version_transitions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('version_id', 'text', (c) => c.notNull().references('api_versions.id'))
      .addColumn('from_status', 'text', (c) => c.notNull())
      .addColumn('to_status', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('comment', 'text')
      .addColumn('at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('version_transitions_version').on('version_transitions').columns(['version_id', 'at']).execute();
    await db.schema
      .createTable('plans')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('limits', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('consumers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
      .addColumn('client_ids', 'text', (c) => c.notNull())
      .addColumn('webhook_url', 'text')
      .addColumn('email', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('consumer_id', 'text', (c) => c.notNull().references('consumers.id'))
      .addColumn('prefix', 'text', (c) => c.notNull().unique())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema.createIndex('api_keys_consumer').on('api_keys').column('consumer_id').execute();
    await db.schema
      .createTable('subscriptions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('consumer_id', 'text', (c) => c.notNull().references('consumers.id'))
      .addColumn('api_slug', 'text', (c) => c.notNull().references('apis.slug'))
      .addColumn('major', 'integer', (c) => c.notNull())
      .addColumn('plan_id', 'text', (c) => c.notNull().references('plans.id'))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('decided_by', 'text')
      .addColumn('decided_at', 'text')
      .addColumn('comment', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('subscriptions_consumer').on('subscriptions').columns(['consumer_id', 'api_slug', 'major']).execute();
    await db.schema
      .createTable('audit_events')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('before', 'text')
      .addColumn('after', 'text')
      .addColumn('comment', 'text')
      .addColumn('request_id', 'text')
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
    await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor', 'at']).execute();
    await db.schema.createIndex('audit_events_target').on('audit_events').columns(['target', 'at']).execute();
    await db.schema
      .createTable('audit_head')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await (db as Kysely<{ audit_head: { id: number; seq: number; hash: string } }>)
      .insertInto('audit_head')
      .values({ id: 1, seq: 0, hash: '0'.repeat(64) })
      .execute();
    await db.schema
      .createTable('snapshots')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('gateway_nodes')
      .addColumn('node_id', 'text', (c) => c.primaryKey())
      .addColumn('applied_hash', 'text')
      .addColumn('error', 'text')
      .addColumn('last_seen', 'text', (c) => c.notNull())
      .execute();
  },
};

/**
 * Consumers, credentials and subscriptions: a claim table that makes an OAuth client id belong
 * to one consumer only (a primary key, so two concurrent writers cannot both claim it), at most
 * one open (pending or active) subscription per consumer + API + major (a partial unique
 * index), who revoked a subscription and why, and which key replaced a rotated one.
 */
const m002: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('consumer_client_ids')
      .addColumn('client_id', 'text', (c) => c.primaryKey())
      .addColumn('consumer_id', 'text', (c) => c.notNull().references('consumers.id'))
      .execute();
    await db.schema.createIndex('consumer_client_ids_consumer').on('consumer_client_ids').column('consumer_id').execute();
    // SQLite adds one column per ALTER TABLE.
    await db.schema.alterTable('subscriptions').addColumn('revoked_by', 'text').execute();
    await db.schema.alterTable('subscriptions').addColumn('revoked_at', 'text').execute();
    await db.schema.alterTable('subscriptions').addColumn('revoke_comment', 'text').execute();
    await db.schema
      .createIndex('subscriptions_one_open')
      .unique()
      .on('subscriptions')
      .columns(['consumer_id', 'api_slug', 'major'])
      .where(sql<boolean>`status in ('pending', 'active')`)
      .execute();
    await db.schema.createIndex('subscriptions_api').on('subscriptions').columns(['api_slug', 'major']).execute();
    await db.schema.alterTable('api_keys').addColumn('replaced_by', 'text').execute();
  },
};

/**
 * Version lifecycle: the sunset date announced when a version is deprecated, and at most one
 * published version per API + major (a partial unique index), since the gateway routes a major
 * to exactly one version; publishing a newer one deprecates the old in the same transaction.
 */
const m003: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('api_versions').addColumn('sunset', 'text').execute();
    await db.schema
      .createIndex('api_versions_one_published')
      .unique()
      .on('api_versions')
      .columns(['api_slug', 'major'])
      .where(sql<boolean>`status = 'published'`)
      .execute();
  },
};

const m004: Migration = {
  async up(db: Kysely<unknown>) {
    // The version a deprecated one points its consumers to (announced in Link: rel="successor-version").
    await db.schema.alterTable('api_versions').addColumn('successor', 'text').execute();
  },
};

/**
 * Access records shipped by gateway nodes (batches chained by hash, each stored once per node
 * and batch id), the notification outbox with one row per delivery and one per attempt, and
 * each consumer's webhook signing secret.
 */
const m005: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('access_batches')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('batch_id', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .addColumn('records', 'integer', (c) => c.notNull())
      .addColumn('first_at', 'text', (c) => c.notNull())
      .addColumn('last_at', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addUniqueConstraint('access_batches_node_batch', ['node_id', 'batch_id'])
      .execute();
    await db.schema
      .createTable('access_batch_head')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await (db as Kysely<{ access_batch_head: { id: number; seq: number; hash: string } }>)
      .insertInto('access_batch_head')
      .values({ id: 1, seq: 0, hash: '0'.repeat(64) })
      .execute();
    await db.schema
      .createTable('access_records')
      .addColumn('batch_seq', 'integer', (c) => c.notNull().references('access_batches.seq'))
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('trace_id', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('api', 'text')
      .addColumn('version', 'text')
      .addColumn('operation', 'text')
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull())
      .addColumn('latency_us', 'integer', (c) => c.notNull())
      .addColumn('upstream_latency_us', 'integer')
      .addColumn('upstream_status', 'integer')
      .addColumn('consumer', 'text')
      .addColumn('subject', 'text')
      .addColumn('client_address', 'text', (c) => c.notNull())
      .addColumn('snapshot_hash', 'text', (c) => c.notNull())
      .addColumn('aborted', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('access_records_pk', ['batch_seq', 'idx'])
      .execute();
    await db.schema.createIndex('access_records_at').on('access_records').columns(['at']).execute();
    await db.schema.createIndex('access_records_operation').on('access_records').columns(['api', 'version', 'operation', 'at']).execute();
    await db.schema.createIndex('access_records_consumer').on('access_records').columns(['consumer', 'at']).execute();
    await db.schema.createIndex('access_records_trace').on('access_records').columns(['trace_id']).execute();

    await db.schema.alterTable('consumers').addColumn('webhook_secret', 'text').execute();
    await db.schema
      .createTable('notifications')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('api', 'text')
      .addColumn('version', 'text')
      .addColumn('consumer_id', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('impacted', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('locked_until', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('delivered_at', 'text')
      .addColumn('last_error', 'text')
      .addColumn('dedupe_key', 'text', (c) => c.unique())
      .execute();
    await db.schema.createIndex('notifications_due').on('notifications').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('notifications_consumer').on('notifications').columns(['consumer_id', 'created_at']).execute();
    await db.schema
      .createTable('notification_attempts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('notification_id', 'text', (c) => c.notNull().references('notifications.id'))
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('status_code', 'integer')
      .addColumn('latency_ms', 'integer', (c) => c.notNull())
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('notification_attempts_notification').on('notification_attempts').columns(['notification_id', 'attempt']).execute();
  },
};

/**
 * The system-of-record registry: one document (systems, entities with owners and upstream
 * mappings, enrichment grants) seeded with the retail defaults as of this release, and which
 * system each consumer writes for.
 */
const m006: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('ownership_registry')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('document', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .execute();
    await (db as Kysely<{ ownership_registry: { id: number; document: string; revision: number; updated_at: string; updated_by: string } }>)
      .insertInto('ownership_registry')
      .values({ id: 1, document: JSON.stringify(RETAIL_OWNERSHIP_DEFAULTS), revision: 1, updated_at: new Date().toISOString(), updated_by: 'migration 006' })
      .execute();
    await db.schema.alterTable('consumers').addColumn('speaks_for', 'text').execute();
  },
};

/**
 * Auditor queries over access records (by decision code, by subject, by node) and retention:
 * the access chain's head remembers where the kept chain starts once old batches are purged.
 */
const m007: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('access_records_decision').on('access_records').columns(['decision', 'at']).execute();
    await db.schema.createIndex('access_records_subject').on('access_records').columns(['subject', 'at']).execute();
    await db.schema.createIndex('access_batches_last_at').on('access_batches').columns(['last_at']).execute();
    await db.schema.alterTable('access_batch_head').addColumn('base_seq', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('access_batch_head').addColumn('base_hash', 'text', (c) => c.notNull().defaultTo('0'.repeat(64))).execute();
  },
};

/**
 * Auditor queries that do not depend on planner statistics. A page is `ORDER BY at DESC,
 * batch_seq DESC, idx DESC LIMIT n`; with an index on only (consumer, at) or (trace_id),
 * PostgreSQL without fresh statistics (autovacuum off, or not yet run after a bulk load) walked
 * the whole `at` index filtering for one traceId (~0.9 s at a million records) or sorted a
 * week of `allow` records (~0.5 s). Indexes that end with the whole sort key answer a page
 * by reading its rows in order and stopping; SQLite no longer sorts either. They replace the
 * narrower ones, so ingestion maintains no more indexes than before. Measured by
 * test/bench/audit-queries.ts.
 */
const m008: Migration = {
  async up(db: Kysely<unknown>) {
    for (const [dropped, name, column] of [
      ['access_records_consumer', 'access_records_consumer_page', 'consumer'],
      ['access_records_decision', 'access_records_decision_page', 'decision'],
      ['access_records_trace', 'access_records_trace_page', 'trace_id'],
    ] as const) {
      await db.schema.dropIndex(dropped).execute();
      await db.schema.createIndex(name).on('access_records').columns([column, 'at', 'batch_seq', 'idx']).execute();
    }
  },
};

/**
 * Ingestion at volume: an index keyed by trace id takes each record at a random place, so a
 * batch of 2000 dirties some 2000 index pages, each written to the WAL (SQLite) or the heap's
 * index (PostgreSQL) whole. That one index halved SQLite ingestion at a million records
 * (22,000 → 41,000 records/s without it; test/bench/audit-queries.ts). Keyed by the record's
 * hour first (`substr(at, 1, 13)`, 'YYYY-MM-DDTHH'), a batch lands in the few pages of the
 * hours it covers; a traceId lookup probes each hour that holds records (search.ts). An
 * expression index, not a column: the stored rows, and so the access chain's hashes, stay as
 * they are.
 */
const m009: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('access_records_trace_page').execute();
    await sql`create index access_records_trace_hour on access_records (substr(at, 1, 13), trace_id)`.execute(db);
  },
};

/** Every migration, by name (applied in name order). */
export const MIGRATIONS: Readonly<Record<string, Migration>> = { '001_initial': m001, '002_consumers_subscriptions': m002, '003_version_lifecycle': m003, '004_version_successor': m004, '005_access_notifications': m005, '006_ownership': m006, '007_audit_queries': m007, '008_audit_query_pages': m008, '009_trace_by_hour': m009 };

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};
