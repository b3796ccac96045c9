/**
 * @module The counters behind `rate-limit` and `quota`: express-rate-limit's stores driven
 * directly, one per window length, kept in `deps.lasting` so that publishing a snapshot resets
 * nobody's count. With a Redis client (`REDIS_URL`) the counts live in Redis (rate-limit-redis:
 * an atomic INCR in Lua, so every gateway node shares one count and concurrent requests can
 * never overshoot); without one — and, under `failOpen`, while Redis is unreachable — in
 * per-node memory.
 *
 * Why the stores and not the middleware: the middleware is written for express (`req.ip`,
 * `res.status().send()`), sets its headers with `res.setHeader` / `res.append` (the proxy
 * writes headers with `writeHead(array)`, so they must go through `ctx.responseHeaders`),
 * counts time with `Date.now()` (tests inject a clock), awaits several times and allocates
 * closures per request, and knows one limit per instance where a plan has several rates and
 * quotas. Keying, windows, headers and fail modes all come from the plan here, so what is left
 * to reuse is exactly the stores.
 *
 * Windows are fixed and aligned: a rate's window `n` is `[n·w, (n+1)·w)` on the epoch (UTC),
 * a quota's is the calendar day or month (UTC), and the window is part of the key. So the
 * injected clock alone decides the window (every node agrees, tests freeze it), `t` and
 * `Retry-After` are exact, and a store's own expiry only collects old keys.
 */
import { MemoryStore, type Options as RateLimitOptions } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { PlanLimits } from '../contracts/index.js';
import type { Logger, PolicyDeps, RedisClient } from './define-policy.js';
import { GatewayError } from './errors.js';

export type StoreFailureMode = PlanLimits['onStoreFailure'];

/** One window length's counts in one place (node memory or Redis). */
export interface CounterBackend {
  /** Counts one hit under `key`; gives the hits so far, this one included. */
  increment(key: string): number | Promise<number>;
  /** Gives one hit back (a refund). Never throws, never creates a key. */
  decrement(key: string): void;
}

/** Where one window length is counted: always per node, and in Redis when the gateway has it. */
export interface WindowCounters {
  readonly local: CounterBackend;
  readonly shared: CounterBackend | undefined;
}

/** Per-node counts of calendar periods: a new period starts empty. */
export interface PeriodBackend extends CounterBackend {
  /** Starts a new period (its label sorts after the current one's) with no counts. */
  roll(label: string): void;
}

/** Where one calendar period kind is counted. */
export interface PeriodCounters extends WindowCounters {
  readonly local: PeriodBackend;
}

/** Per-node counts of one rate window: express-rate-limit's MemoryStore. */
class MemoryWindow implements CounterBackend {
  readonly #store = new MemoryStore();

  constructor(windowMs: number) {
    // Its sweep runs every `windowMs` and drops keys untouched for a whole window, which is
    // what aligned keys need: a window's key is never touched after the window ends.
    this.#store.init({ windowMs } as RateLimitOptions);
  }

  async increment(key: string): Promise<number> {
    return (await this.#store.increment(key)).totalHits;
  }

  decrement(key: string): void {
    void this.#store.decrement(key);
  }
}

/**
 * Per-node counts of calendar periods (quotas). Not express-rate-limit's MemoryStore: its
 * window length drives a `setInterval`, which Node caps at 2³¹−1 ms (24.8 days; a month's
 * window would fire every millisecond), and its sweep would drop a count left untouched for a
 * window. Here a period's counts live until the next period starts.
 */
class PeriodMemory implements PeriodBackend {
  #period = '';
  #counts = new Map<string, number>();

  roll(label: string): void {
    if (label > this.#period) {
      this.#period = label;
      this.#counts = new Map();
    }
  }

  increment(key: string): number {
    const hits = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, hits);
    return hits;
  }

  decrement(key: string): void {
    const hits = this.#counts.get(key);
    if (hits !== undefined && hits > 0) this.#counts.set(key, hits - 1);
  }
}

/** Any SHA: EVALSHA answers NOSCRIPT and RedisStore loads its script, as after a Redis restart. */
const SCRIPT_NOT_LOADED = Promise.resolve('0000000000000000000000000000000000000000');

/**
 * A refund: plain DECR (RedisStore's `decrement`) on a key that has expired would create it at
 * -1 with no expiry, so the script touches only a key that still exists.
 */
const DECREMENT_IF_PRESENT = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0";

/** Shared counts of one window length: rate-limit-redis's RedisStore over node-redis. */
class RedisWindow implements CounterBackend {
  readonly #store: RedisStore;
  readonly #client: RedisClient;
  readonly #logger: Logger;

  constructor(client: RedisClient, windowMs: number, logger: Logger) {
    this.#client = client;
    this.#logger = logger;
    // Keys arrive whole (prefix included), so memory and Redis hold the same names.
    this.#store = new RedisStore({ prefix: '', sendCommand: (...args: string[]) => client.sendCommand(args) as Promise<RedisReply> });
    // Not `init()`: it loads the scripts at once, and a load that fails (Redis down while a
    // snapshot compiles) would stay the store's rejected promise for good. The script is
    // loaded on first use instead, through the store's own NOSCRIPT path.
    this.#store.windowMs = windowMs;
    this.#store.incrementScriptSha = SCRIPT_NOT_LOADED;
  }

  async increment(key: string): Promise<number> {
    try {
      return (await this.#store.increment(key)).totalHits;
    } catch (error) {
      // A script load that failed with the connection is not kept: load again next time.
      this.#store.incrementScriptSha = SCRIPT_NOT_LOADED;
      throw error;
    }
  }

  decrement(key: string): void {
    this.#client.sendCommand(['EVAL', DECREMENT_IF_PRESENT, '1', key]).catch((error: unknown) => {
      this.#logger.debug('limit refund not written to Redis', { error: (error as Error).message });
    });
  }
}

/** The counters of one rate window length, shared by every binding for the gateway's lifetime. */
export function rateWindow(deps: PolicyDeps, windowMs: number): WindowCounters {
  const { redis, logger } = deps;
  return deps.lasting.memo(`limits:rate:${windowMs}`, () => ({
    local: new MemoryWindow(windowMs),
    shared: redis === undefined ? undefined : new RedisWindow(redis, windowMs, logger),
  }));
}

/** Longest day / month, plus a margin so a refund just after the period ends finds its key. */
const PERIOD_TTL_MS = { day: 86_400_000 + 3_600_000, month: 31 * 86_400_000 + 3_600_000 } as const;

/** The counters of one calendar period kind, shared by every binding for the gateway's lifetime. */
export function periodWindow(deps: PolicyDeps, unit: 'day' | 'month'): PeriodCounters {
  const { redis, logger } = deps;
  return deps.lasting.memo(`limits:period:${unit}`, () => ({
    local: new PeriodMemory(),
    shared: redis === undefined ? undefined : new RedisWindow(redis, PERIOD_TTL_MS[unit], logger),
  }));
}

/** A calendar period (UTC): `[start, end)` in ms, and its label (`2026-11-01`, `2026-11`). */
export interface Period {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

const DAY_MS = 86_400_000;

function periodAt(unit: 'day' | 'month', now: number): Period {
  if (unit === 'day') {
    const start = Math.floor(now / DAY_MS) * DAY_MS;
    return { start, end: start + DAY_MS, label: new Date(start).toISOString().slice(0, 10) };
  }
  const date = new Date(now);
  const start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
  return { start, end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1), label: new Date(start).toISOString().slice(0, 7) };
}

/**
 * The period containing a time, remembering the latest one so a request costs two comparisons
 * (a Date is made only when a period starts).
 *
 * @example
 * const day = createPeriodClock('day');
 * day(Date.parse('2026-11-01T23:59:00Z')).label; // '2026-11-01'
 */
export function createPeriodClock(unit: 'day' | 'month'): (now: number) => Period {
  let latest = periodAt(unit, 0);
  return function periodOf(now: number): Period {
    if (now >= latest.start && now < latest.end) return latest;
    const period = periodAt(unit, now);
    if (now >= latest.end) latest = period;
    return period;
  };
}

/** What counting one request gave. */
export interface Counted {
  /** Hits per key, this request included, in the order of the keys. */
  readonly hits: number[];
  /** Counted in Redis (else in this node's memory). */
  readonly shared: boolean;
}

export interface LimitCounters {
  /**
   * Counts one request under each key (`windows[i]` counts `keys[i]`): in Redis when the
   * gateway has it, else in node memory. With Redis unreachable, `failOpen` counts in node
   * memory (logged once per outage, counted in `gatehouse_limit_store_failures_total`) and
   * `failClosed` throws 503 `limit.store_unavailable`.
   */
  count(windows: readonly WindowCounters[], keys: readonly string[], mode: StoreFailureMode): Promise<Counted>;
  /** Gives one hit back under `key`, where the request was counted. */
  refund(window: WindowCounters, key: string, shared: boolean): void;
}

/** Whether the shared store is in an outage, per policy and for the gateway's lifetime. */
interface StoreHealth {
  degraded: boolean;
}

/**
 * @example
 * const counters = createLimitCounters(deps, 'rate-limit');
 * const { hits } = await counters.count([rateWindow(deps, 60_000)], [key], 'failOpen');
 */
export function createLimitCounters(deps: PolicyDeps, policy: 'rate-limit' | 'quota'): LimitCounters {
  const { redis, logger } = deps;
  const health = deps.lasting.memo<StoreHealth>(`limits:health:${policy}`, () => ({ degraded: false }));
  const countFailure = deps.metrics.counter(
    'limit_store_failures_total',
    'Requests the rate-limit and quota policies could not count in the shared store (Redis): counted per node (failOpen) or refused with 503 (failClosed).',
    ['policy', 'mode'],
  );
  const openLabels = { policy, mode: 'failOpen' };
  const closedLabels = { policy, mode: 'failClosed' };

  function degrade(mode: StoreFailureMode, error: unknown): void {
    if (!health.degraded) {
      health.degraded = true;
      logger.warn(`${policy}: the shared limit store (Redis) is unreachable; failOpen plans count per node, failClosed plans answer 503 until it is back`, {
        ...(error === undefined ? {} : { error: (error as Error).message }),
      });
    }
    if (mode === 'failOpen') {
      countFailure(openLabels);
      return;
    }
    countFailure(closedLabels);
    throw new GatewayError('limit.store_unavailable', 'The rate-limit store is unreachable and this plan does not allow counting without it.', {
      headers: { 'retry-after': '1' },
      ...(error === undefined ? {} : { cause: error }),
    });
  }

  async function incrementAll(windows: readonly WindowCounters[], keys: readonly string[], shared: boolean): Promise<number[]> {
    if (windows.length === 1) return [await (shared ? windows[0]!.shared! : windows[0]!.local).increment(keys[0]!)];
    const pending: Array<number | Promise<number>> = [];
    for (let i = 0; i < windows.length; i++) pending.push((shared ? windows[i]!.shared! : windows[i]!.local).increment(keys[i]!));
    return Promise.all(pending);
  }

  return {
    async count(windows, keys, mode) {
      if (redis !== undefined) {
        // A request whose windows were counted in Redis only in part when it failed is then
        // counted in node memory in full: at most one hit too many in Redis, never one too few.
        // With no offline queue a command fails at once while the connection is down, but
        // asking `isReady` first spares the rejected promise on every request of an outage.
        if (redis.isReady) {
          try {
            const hits = await incrementAll(windows, keys, true);
            if (health.degraded) {
              health.degraded = false;
              logger.info(`${policy}: the shared limit store (Redis) is reachable again; counting there`);
            }
            return { hits, shared: true };
          } catch (error) {
            degrade(mode, error);
          }
        } else {
          degrade(mode, undefined);
        }
      }
      return { hits: await incrementAll(windows, keys, false), shared: false };
    },
    refund(window, key, shared) {
      (shared ? window.shared! : window.local).decrement(key);
    },
  };
}

/**
 * Adds a policy's items to the IETF `RateLimit-Policy` / `RateLimit` response headers
 * (structured-field lists, draft-ietf-httpapi-ratelimit-headers-08 §3–4), after any items
 * another limit policy already put there.
 */
export function addRateLimitHeaders(headers: Record<string, string>, policyItems: string, stateItems: string): void {
  const policies = headers['ratelimit-policy'];
  headers['ratelimit-policy'] = policies === undefined ? policyItems : `${policies}, ${policyItems}`;
  const state = headers.ratelimit;
  headers.ratelimit = state === undefined ? stateItems : `${state}, ${stateItems}`;
}

/**
 * The limits only ever see a consumer and its plan when `subscription` runs on the same
 * version; a binding without it would silently limit nothing, so it is refused.
 */
export function requireSubscription(deps: PolicyDeps, policy: string): { api: string; major: number } {
  const version = deps.version;
  if (version === undefined) throw new Error(`${policy} is bound per API version`);
  if (!version.spec.policies.some((binding) => binding.policy === 'subscription')) {
    throw new Error(`${policy} needs the subscription policy on the same version (limits come from the consumer's plan)`);
  }
  return { api: version.api, major: version.major };
}
