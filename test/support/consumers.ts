/** @module Snapshot fixtures for policy tests: API keys as the snapshot holds them, and keyed consumers. */
import { createHash } from 'node:crypto';
import type { ApiKeySpec, ConsumerSpec } from '../../contracts/index.js';

/** The snapshot's view of a key `<prefix>.<secret>`: its prefix and SHA-256, never the key. */
export function apiKeySpec(id: string, key: string, extra: Partial<ApiKeySpec> = {}): ApiKeySpec {
  return { id, prefix: key.slice(0, key.indexOf('.')), sha256: createHash('sha256').update(key).digest('hex'), revoked: false, ...extra };
}

/**
 * Two consumers, storefront and crm-sync, each holding one API key and subscribed to `apis`
 * (major 1) under `plan`.
 *
 * @example
 * const consumers = twoKeyedConsumers(['orders'], { storefront: STOREFRONT_KEY, crm: CRM_KEY });
 */
export function twoKeyedConsumers(apis: readonly string[], keys: { storefront: string; crm: string }, plan = 'standard'): ConsumerSpec[] {
  const subscriptions = apis.map((api) => ({ api, major: 1, plan }));
  return [
    { id: 'storefront', name: 'Storefront', team: 'web', clientIds: [], apiKeys: [apiKeySpec('k1', keys.storefront)], subscriptions },
    { id: 'crm-sync', name: 'CRM sync', team: 'crm', clientIds: [], apiKeys: [apiKeySpec('k2', keys.crm)], subscriptions },
  ];
}
