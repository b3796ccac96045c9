/**
 * @module How the gateway's admin surface reaches the cache stores: each store registers its
 * purge-by-prefix in one registry kept in the gateway-lifetime scope (`PolicyDeps.lasting`),
 * so the gateway needs no knowledge of the cache policy and no new dependency field.
 */
import type { SnapshotScope } from '../define-policy.js';

/** Removes the entries whose cache key starts with `prefix`; resolves with how many. */
export type PurgeByPrefix = (prefix: string) => Promise<number>;

export interface CachePurgeRegistry {
  /** Registers (or replaces) the purge of one store, by a name unique to the store. */
  register(store: string, purge: PurgeByPrefix): void;
  /**
   * Purges every registered store. Rejects, after trying all, if any store failed (naming it);
   * the stores that worked stay purged.
   */
  purge(prefix: string): Promise<number>;
}

/**
 * The registry of the gateway whose `lasting` scope this is (made on first use).
 *
 * @example
 * const purged = await cachePurgeRegistry(policyDeps.lasting).purge('orders/v1/products');
 */
export function cachePurgeRegistry(lasting: SnapshotScope): CachePurgeRegistry {
  return lasting.memo('cache:purge-registry', () => {
    const stores = new Map<string, PurgeByPrefix>();
    return {
      register(store, purge) {
        stores.set(store, purge);
      },
      async purge(prefix) {
        const names = [...stores.keys()];
        const results = await Promise.allSettled(names.map((name) => stores.get(name)!(prefix)));
        const failed = names.filter((_, i) => results[i]!.status === 'rejected');
        if (failed.length > 0) {
          const cause = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as unknown;
          throw new Error(`cache purge failed in ${failed.join(', ')}`, { cause });
        }
        return results.reduce((sum, r) => sum + (r as PromiseFulfilledResult<number>).value, 0);
      },
    };
  });
}
