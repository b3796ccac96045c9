/**
 * @module `cache`: 200 answers to a version's GET operations, kept per caller (consumer and
 * token subject) unless the operation is `shared`, for a TTL per operation; HEAD is answered
 * from the GET entry. Every answer says what the cache did in `Cache-Status` (RFC 9211). Past
 * its freshness an entry is kept `staleIfErrorSeconds` longer and answers, with an `Age`, when
 * the upstream fails (RFC 5861). Entries are purged by key prefix on the gateway's admin route.
 */
import { createHash } from 'node:crypto';
import type { CapturedResponse, RequestContext } from '../../contracts/index.js';
import { definePolicy, outcomeCounter, type Clock, type PolicyRequest, type PolicyResponse, type SnapshotScope } from '../define-policy.js';
import { sendCaptured } from '../respond.js';
import { callerPartition } from '../stored-response.js';
import { cachePurgeRegistry } from './purge.js';
import { cacheSchema, type CacheConfig } from './schema.js';
import { createMemoryCacheStore, createRedisCacheStore, type CacheEntry, type CacheStore } from './store.js';

/** What one GET operation does, resolved once per snapshot. */
interface OperationRule {
  ttlMs: number;
  staleMs: number;
  shared: boolean;
}

/** RFC 9211 cache name in `Cache-Status`. */
const CACHE_NAME = 'gatehouse';

/**
 * `Vary` names the gateway answers for without keying on them: the upstream never sees the
 * caller's credentials (adapters put the gateway's own in their place), and the caller is in
 * the key anyway unless the route is shared.
 */
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'cookie']);

/** Response headers never stored: recomputed per answer, or the caller's own session. */
const UNSTORED_HEADERS = ['age', 'cache-status', 'set-cookie'];

const seconds = (ms: number): number => Math.max(0, Math.floor(ms / 1000));

/** `no-store`, `private` or `no-cache` (we do not revalidate), or the directive's `s-maxage` / `max-age` in ms. */
function cacheControl(value: string | string[] | undefined): { refuse: string } | { maxAgeMs: number | undefined } {
  if (value === undefined) return { maxAgeMs: undefined };
  let sMaxAge: number | undefined;
  let maxAge: number | undefined;
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const [rawName, rawArg] = part.split('=', 2);
    const name = rawName!.trim().toLowerCase();
    if (name === 'no-store' || name === 'private' || name === 'no-cache') return { refuse: name };
    const arg = Number(rawArg?.trim().replace(/^"|"$/g, ''));
    if (name === 's-maxage' && Number.isFinite(arg)) sMaxAge = arg;
    if (name === 'max-age' && Number.isFinite(arg)) maxAge = arg;
  }
  const age = sMaxAge ?? maxAge;
  return { maxAgeMs: age === undefined ? undefined : age * 1000 };
}

/**
 * @param config.ttlSeconds defaults to 60
 * @param config.staleIfErrorSeconds defaults to 0 (stale answers off)
 * @example
 * // a version's policies in a snapshot: products public for 5 min, stale for an hour when the ERP is down
 * { policy: 'cache', config: { ttlSeconds: 300, staleIfErrorSeconds: 3600, operations: { listProducts: { shared: true } } } }
 */
export const cachePolicy = definePolicy<CacheConfig>({
  name: 'cache',
  // After everything that may refuse the request (a hit must never skip authentication,
  // subscription, scopes or limits) and after idempotency (600); the proxy comes next.
  priority: 500,
  schema: cacheSchema,
  create(config, deps) {
    const version = deps.version;
    if (version === undefined) throw new Error('cache is bound per API version');
    const { api, major, spec } = version;

    const rules = new Map<string, OperationRule>();
    const declared = new Map(spec.operations.map((op) => [op.id, op.method]));
    for (const id of Object.keys(config.operations)) {
      const method = declared.get(id);
      if (method === undefined) throw new Error(`operations.${id}: the version declares no such operation`);
      if (method !== 'GET') throw new Error(`operations.${id}: only GET operations are cached (this one is ${method})`);
    }
    for (const op of spec.operations) {
      if (op.method !== 'GET') continue;
      const own = config.operations[op.id];
      if (own?.enabled === false) continue;
      rules.set(op.id, {
        ttlMs: (own?.ttlSeconds ?? config.ttlSeconds) * 1000,
        staleMs: (own?.staleIfErrorSeconds ?? config.staleIfErrorSeconds) * 1000,
        shared: own?.shared ?? config.shared,
      });
    }

    const base = `${api}/v${major}`;
    const varyHeaders = config.varyHeaders.map((name) => name.toLowerCase());
    const covered = new Set([...varyHeaders, ...CREDENTIAL_HEADERS]);
    const { clock, logger } = deps;
    const store = deps.redis === undefined ? memoryStoreFor(deps.lasting, base, config.memoryBudgetBytes, clock) : createRedisCacheStore(deps.redis, config.redisKeyPrefix, clock);
    const registry = cachePurgeRegistry(deps.lasting);
    if (deps.redis === undefined) registry.register(`memory:${base}`, (prefix) => store.purge(prefix));
    else registry.register(`redis:${config.redisKeyPrefix}`, (prefix) => store.purge(prefix));

    const counted = outcomeCounter(deps.metrics, 'cache_requests_total', 'Cache lookups and stores by outcome (hit, miss, stale, stale_if_error, stored, not_stored, store_error).', api, spec.version);

    let lastStoreErrorLog = -Infinity;
    function storeFailed(action: string, error: unknown, ctx: RequestContext): void {
      counted('store_error');
      // A cache outage never refuses a request (it is forwarded); one log line per 10 s.
      const now = clock.now();
      if (now - lastStoreErrorLog < 10_000) return;
      lastStoreErrorLog = now;
      logger.error('cache store failed; forwarding uncached', { action, api, major, traceId: ctx.traceId, error: (error as Error).message });
    }

    /**
     * `<api>/v<major><path?query>#<caller or shared>#<vary values>`: the path first, so the
     * admin purge by prefix (`orders/v1/products`) reaches every caller's copy.
     */
    function keyOf(req: PolicyRequest, ctx: RequestContext, rule: OperationRule): string {
      let vary = '';
      for (let i = 0; i < varyHeaders.length; i++) {
        const value = req.headers[varyHeaders[i]!];
        vary += `${i === 0 ? '' : '&'}${value === undefined ? '' : encodeURIComponent(Array.isArray(value) ? value.join(',') : value)}`;
      }
      // Callers choose these values: a long one is hashed rather than stored as sent.
      if (vary.length > 256) vary = createHash('sha256').update(vary).digest('base64url');
      return `${base}${ctx.upstreamPath}#${rule.shared ? 'shared' : callerPartition(ctx)}#${vary}`;
    }

    /** Why an upstream answer is not stored, or its freshness lifetime. */
    function judge(response: CapturedResponse, rule: OperationRule): { skip: string } | { lifetimeMs: number } {
      if (response.status !== 200) return { skip: 'status' };
      if (response.body.length > config.maxEntryBytes) return { skip: 'too-large' };
      if (response.headers['set-cookie'] !== undefined) return { skip: 'set-cookie' };
      const control = cacheControl(response.headers['cache-control']);
      if ('refuse' in control) return { skip: control.refuse };
      const vary = response.headers.vary;
      if (vary !== undefined) {
        for (const name of (Array.isArray(vary) ? vary.join(',') : vary).split(',')) {
          const header = name.trim().toLowerCase();
          if (header !== '' && !covered.has(header)) return { skip: 'vary' };
        }
      }
      const lifetimeMs = control.maxAgeMs === undefined ? rule.ttlMs : Math.min(rule.ttlMs, control.maxAgeMs);
      return lifetimeMs <= 0 ? { skip: 'max-age' } : { lifetimeMs };
    }

    /** The entry to keep: the answer's headers less the per-answer ones and what other policies added. */
    function entryOf(response: CapturedResponse, ctx: RequestContext, now: number, lifetimeMs: number, rule: OperationRule): CacheEntry {
      const headers = { ...response.headers };
      for (const name of UNSTORED_HEADERS) delete headers[name];
      if (ctx.responseHeaders !== undefined) for (const name in ctx.responseHeaders) delete headers[name.toLowerCase()];
      return { status: response.status, headers, body: response.body, storedAt: now, freshUntil: now + lifetimeMs, staleUntil: now + lifetimeMs + rule.staleMs };
    }

    function hit(res: PolicyResponse, ctx: RequestContext, entry: CacheEntry, now: number): void {
      counted('hit');
      sendCaptured(res, entry, ctx, {
        'cache-status': `${CACHE_NAME}; hit; ttl=${seconds(entry.freshUntil - now)}`,
        age: String(seconds(now - entry.storedAt)),
      });
    }

    /** Forward: say so in Cache-Status, keep a stale entry for the upstream's failure, store the answer (GET). */
    function miss(req: PolicyRequest, res: PolicyResponse, ctx: RequestContext, rule: OperationRule, key: string, stale: CacheEntry | undefined): void {
      const fwd = stale === undefined ? 'uri-miss' : 'stale';
      counted(stale === undefined ? 'miss' : 'stale');
      // On the response itself (not `ctx.responseHeaders`), so the tap can still say `stored`.
      res.setHeader('cache-status', `${CACHE_NAME}; fwd=${fwd}`);
      if (stale !== undefined && rule.staleMs > 0) {
        ctx.fallback = function staleIfError(_code, cx) {
          const now = clock.now();
          if (now >= stale.staleUntil) return undefined;
          counted('stale_if_error');
          const status = cx.upstreamStatus === undefined ? '' : `; fwd-status=${cx.upstreamStatus}`;
          cx.responseHeaders = {
            ...cx.responseHeaders,
            'cache-status': `${CACHE_NAME}; fwd=stale${status}; detail=stale-if-error`,
            age: String(seconds(now - stale.storedAt)),
          };
          return stale;
        };
      }
      if (req.method !== 'GET') return;
      (ctx.responseTaps ??= []).push(function storeAnswer(response, cx) {
        const verdict = judge(response, rule);
        if ('skip' in verdict) {
          counted('not_stored');
          if (!res.headersSent) res.setHeader('cache-status', `${CACHE_NAME}; fwd=${fwd}; fwd-status=${response.status}; detail=${verdict.skip}`);
          return;
        }
        const now = clock.now();
        counted('stored');
        if (!res.headersSent) res.setHeader('cache-status', `${CACHE_NAME}; fwd=${fwd}; fwd-status=${response.status}; stored; ttl=${seconds(verdict.lifetimeMs)}`);
        try {
          const pending = store.set(key, entryOf(response, cx, now, verdict.lifetimeMs, rule));
          if (pending !== undefined) pending.catch((error: unknown) => storeFailed('set', error, cx));
        } catch (error) {
          storeFailed('set', error, cx);
        }
      });
    }

    function decide(req: PolicyRequest, res: PolicyResponse, ctx: RequestContext, rule: OperationRule, key: string, entry: CacheEntry | undefined): void {
      if (entry === undefined) return miss(req, res, ctx, rule, key, undefined);
      const now = clock.now();
      if (now < entry.freshUntil) return hit(res, ctx, entry, now);
      return miss(req, res, ctx, rule, key, entry);
    }

    return function cache(req, res, ctx) {
      const rule = rules.get(ctx.operationId ?? '');
      if (rule === undefined) return undefined;
      const key = keyOf(req, ctx, rule);
      let found;
      try {
        found = store.get(key);
      } catch (error) {
        storeFailed('get', error, ctx);
        return miss(req, res, ctx, rule, key, undefined);
      }
      if (found instanceof Promise) {
        return found.then(
          (entry) => decide(req, res, ctx, rule, key, entry),
          (error: unknown) => {
            storeFailed('get', error, ctx);
            miss(req, res, ctx, rule, key, undefined);
          },
        );
      }
      return decide(req, res, ctx, rule, key, found);
    };
  },
});

/**
 * One memory store per API version for the gateway's lifetime, so publishing a snapshot keeps
 * the entries; a changed budget starts a new, empty one.
 */
function memoryStoreFor(lasting: SnapshotScope, base: string, budgetBytes: number, clock: Clock): CacheStore {
  const holder = lasting.memo(`cache:memory:${base}`, () => ({ budgetBytes: 0, store: undefined as CacheStore | undefined }));
  if (holder.store === undefined || holder.budgetBytes !== budgetBytes) {
    holder.store = createMemoryCacheStore(budgetBytes, clock);
    holder.budgetBytes = budgetBytes;
  }
  return holder.store;
}
