/**
 * @module Per-instance in-memory storage adapter for the dev IdP. oidc-provider's built-in
 * memory adapter keeps one module-level store shared by every Provider in the process; this one
 * is owned by one dev IdP, so sessions and grants survive a key rotation (which recreates the
 * Provider) and two dev IdPs in one process (tests) never see each other's records.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  /** Epoch milliseconds; `Infinity` when the model has no expiry. */
  expiresAt: number;
}

/** Above this many records expired ones are swept on write (a dev IdP stays small). */
const SWEEP_THRESHOLD = 5_000;

/** Shared state behind every model's adapter instance of one dev IdP. */
export interface MemoryStore {
  clear(): void;
}

/**
 * Builds an adapter class (oidc-provider instantiates it once per model name) over one private
 * store. Pass the same result to every Provider that should share sessions and grants.
 *
 * @param now Clock in epoch milliseconds, default `Date.now`.
 * @example
 * const { AdapterClass } = createMemoryAdapter();
 * new Provider(issuer, { adapter: AdapterClass });
 */
export function createMemoryAdapter(now: () => number = Date.now): {
  AdapterClass: new (name: string) => Adapter;
  store: MemoryStore;
} {
  const entries = new Map<string, Entry>();

  function read(key: string): AdapterPayload | undefined {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  function sweep(): void {
    const at = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key);
  }

  class DevMemoryAdapter implements Adapter {
    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    #key(id: string): string {
      return `${this.#model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      if (entries.size > SWEEP_THRESHOLD) sweep();
      const expiresAt = typeof expiresIn === 'number' ? now() + expiresIn * 1000 : Infinity;
      entries.set(this.#key(id), { payload: { ...payload }, expiresAt });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return read(this.#key(id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.#findBy((payload) => payload.uid === uid);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.#findBy((payload) => payload.userCode === userCode);
    }

    async consume(id: string): Promise<void> {
      const payload = read(this.#key(id));
      if (payload) payload.consumed = Math.floor(now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      entries.delete(this.#key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of entries) if (entry.payload.grantId === grantId) entries.delete(key);
    }

    #findBy(match: (payload: AdapterPayload) => boolean): AdapterPayload | undefined {
      const prefix = `${this.#model}:`;
      for (const key of entries.keys()) {
        if (!key.startsWith(prefix)) continue;
        const payload = read(key);
        if (payload && match(payload)) return payload;
      }
      return undefined;
    }
  }

  return { AdapterClass: DevMemoryAdapter, store: { clear: () => entries.clear() } };
}
