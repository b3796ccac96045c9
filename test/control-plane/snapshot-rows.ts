/**
 * @module Store rows for snapshot tests, inserted directly (the admin routes that normally
 * write them are tested on their own): a team, an `http` API with versions, a plan, a consumer
 * with an API key and subscriptions.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../../control-plane/store/db.js';

const AT = '2026-11-01T00:00:00.000Z';

/** A minimal OpenAPI 3.1 contract declaring `operations`. */
export function contractFor(title: string, version: string, operations: readonly { id: string; method: string; path: string }[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    paths[op.path] = { ...paths[op.path], [op.method.toLowerCase()]: { operationId: op.id, responses: { '200': { description: 'OK' } } } };
  }
  // Called with an API key (KEYED_POLICIES): declared, so the contract passes the governance lint at submit.
  return {
    openapi: '3.1.0',
    info: { title, version },
    security: [{ apiKey: [] }],
    components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } },
    paths,
  };
}

export async function insertTeam(store: Store, id = 'erp'): Promise<void> {
  await store.db.insertInto('teams').values({ id, name: id.toUpperCase(), created_at: AT }).execute();
}

export async function insertApi(store: Store, slug: string, baseUrl: string, options: Record<string, unknown> = { connectTimeoutMs: 1000, responseTimeoutMs: 2000 }): Promise<void> {
  await store.db
    .insertInto('apis')
    .values({ slug, title: `API ${slug}`, team_id: 'erp', upstream_kind: 'http', base_url: baseUrl, upstream_settings: '{}', upstream_options: JSON.stringify(options), created_at: AT, updated_at: AT, revision: 1 })
    .execute();
}

export interface VersionRow {
  api: string;
  version: string;
  status: string;
  operations?: { id: string; method: string; path: string }[];
  /** Default: api-key then subscription, configs from their schema defaults. */
  policies?: { policy: string; config: Record<string, unknown> }[];
}

export const KEYED_POLICIES = [
  { policy: 'api-key', config: {} },
  { policy: 'subscription', config: {} },
];

export async function insertVersion(store: Store, row: VersionRow): Promise<void> {
  const operations = row.operations ?? [{ id: 'listOrders', method: 'GET', path: '/orders' }];
  await store.db
    .insertInto('api_versions')
    .values({
      id: `${row.api}/${row.version}`,
      api_slug: row.api,
      version: row.version,
      major: Number(row.version.split('.')[0]),
      status: row.status,
      contract: JSON.stringify(contractFor(row.api, row.version, operations)),
      operations: JSON.stringify(operations),
      policies: JSON.stringify(row.policies ?? KEYED_POLICIES),
      created_by: 'olivia.owner',
      last_changed_by: 'olivia.owner',
      submitted_by: null,
      approved_by: null,
      review_comment: null,
      created_at: AT,
      updated_at: AT,
      revision: 1,
    })
    .execute();
}

export async function insertPlan(store: Store, id = 'standard', scopes: string[] = ['orders:read']): Promise<void> {
  await store.db.insertInto('plans').values({ id, name: id, scopes: JSON.stringify(scopes), limits: null, created_at: AT, updated_at: AT, revision: 1 }).execute();
}

export async function insertConsumer(store: Store, id: string, clientIds: string[] = []): Promise<void> {
  await store.db
    .insertInto('consumers')
    .values({ id, name: `Consumer ${id}`, team_id: 'erp', client_ids: JSON.stringify(clientIds), webhook_url: null, email: null, created_at: AT, updated_at: AT, revision: 1 })
    .execute();
}

/** Inserts a key and returns the whole key (`<prefix>.<secret>`) to send in `X-API-Key`. */
export async function insertApiKey(store: Store, consumerId: string, id: string, options: { revoked?: boolean } = {}): Promise<string> {
  const prefix = `gh_${id.replace(/[^A-Za-z0-9]/g, '').padEnd(8, '0').slice(0, 20)}`;
  const key = `${prefix}.test-secret-${id}-not-real`;
  await store.db
    .insertInto('api_keys')
    .values({ id, consumer_id: consumerId, prefix, sha256: createHash('sha256').update(key).digest('hex'), created_at: AT, expires_at: null, revoked_at: options.revoked === true ? AT : null })
    .execute();
  return key;
}

export async function insertSubscription(store: Store, id: string, consumerId: string, api: string, major: number, status = 'active', plan = 'standard'): Promise<void> {
  await store.db
    .insertInto('subscriptions')
    .values({ id, consumer_id: consumerId, api_slug: api, major, plan_id: plan, status, requested_by: 'olivia.owner', decided_by: null, decided_at: null, comment: null, created_at: AT, updated_at: AT, revision: 1 })
    .execute();
}

export async function setSubscriptionStatus(store: Store, id: string, status: string): Promise<void> {
  await store.db.updateTable('subscriptions').set({ status }).where('id', '=', id).execute();
}
