/**
 * @module `rate-limit`: each consumer may send its plan's `limits.rates` — `requests` per
 * `windowSeconds`, fixed windows aligned to the epoch — per API version; beyond, 429
 * `limit.rate_exceeded` with `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit`
 * headers (draft-ietf-httpapi-ratelimit-headers-08). Counted per consumer + API + major + plan,
 * in Redis when the gateway has it (every node shares one count) and in node memory otherwise;
 * with Redis unreachable the plan's `onStoreFailure` decides (see limit-counters.ts).
 *
 * What counts: every request that reaches it (after authentication, subscription and RBAC),
 * including those a later policy or the upstream refuses — they used the capacity the rate
 * protects. A request this policy refuses stays counted in the window that refused it: with
 * aligned windows that changes nothing (the window still ends when it ends, `r` is 0 either
 * way) and spares Redis a second write per refused request under a flood. It is given back to
 * the plan's other rate windows, so hammering a per-second rate does not spend a per-hour one.
 */
import type { RequestContext } from '../../contracts/index.js';
import { definePolicy } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { addRateLimitHeaders, createLimitCounters, rateWindow, requireSubscription, type StoreFailureMode, type WindowCounters } from '../limit-counters.js';
import { rateLimitSchema, type RateLimitConfig } from './schema.js';

interface CompiledRate {
  readonly requests: number;
  readonly windowMs: number;
  /** `{prefix}{api}:{major}:{plan}:{w}s:` — the window index and consumer id follow. */
  readonly keyBase: string;
  /** The quoted policy name, e.g. `"gold-60s"`. */
  readonly item: string;
}

interface CompiledPlan {
  readonly id: string;
  readonly rates: readonly CompiledRate[];
  readonly windows: readonly WindowCounters[];
  readonly mode: StoreFailureMode;
  /** `RateLimit-Policy` items of the plan's rates (constant). */
  readonly policyItems: string;
}

/**
 * @param config.keyPrefix defaults to `gatehouse:rl:`
 * @param config.headers defaults to `always`
 * @example
 * // a version's policies in a snapshot; the consumer's plan carries
 * // "limits": { "rates": [{ "requests": 100, "windowSeconds": 60 }], "quotas": [], "onStoreFailure": "failOpen" }
 * { "policy": "subscription", "config": {} }, { "policy": "rate-limit", "config": {} }
 */
export const rateLimitPolicy = definePolicy<RateLimitConfig>({
  name: 'rate-limit',
  // After subscription (1200, sets the consumer and plan) and RBAC (950): a caller that may
  // not call at all is refused before it is counted. Before contract validation (800).
  priority: 910,
  schema: rateLimitSchema,
  create(config, deps) {
    const { api, major } = requireSubscription(deps, 'rate-limit');
    const plans = new Map<string, CompiledPlan>();
    for (const [id, plan] of deps.directory.plans) {
      const rates = plan.limits?.rates ?? [];
      if (plan.limits === undefined || rates.length === 0) continue;
      const compiled = rates.map((rate): CompiledRate => ({
        requests: rate.requests,
        windowMs: rate.windowSeconds * 1000,
        keyBase: `${config.keyPrefix}${api}:${major}:${id}:${rate.windowSeconds}s:`,
        item: `"${id}-${rate.windowSeconds}s"`,
      }));
      plans.set(id, {
        id,
        rates: compiled,
        windows: compiled.map((rate) => rateWindow(deps, rate.windowMs)),
        mode: plan.limits.onStoreFailure,
        policyItems: compiled.map((rate) => `${rate.item};q=${rate.requests};w=${rate.windowMs / 1000}`).join(', '),
      });
    }
    // No plan limits any rate: nothing to run per request.
    if (plans.size === 0) return {};

    const counters = createLimitCounters(deps, 'rate-limit');
    const { clock } = deps;
    const always = config.headers === 'always';

    async function countRates(plan: CompiledPlan, consumerId: string, ctx: RequestContext): Promise<void> {
      const now = clock.now();
      const { rates } = plan;
      const keys: string[] = [];
      for (const rate of rates) keys.push(`${rate.keyBase}${Math.floor(now / rate.windowMs)}:${consumerId}`);
      const { hits, shared } = await counters.count(plan.windows, keys, plan.mode);

      let state = '';
      let retryAfter = 0;
      let exceeded: CompiledRate | undefined;
      for (let i = 0; i < rates.length; i++) {
        const rate = rates[i]!;
        const used = hits[i]!;
        // Seconds until this window ends (at least 1: the window has not ended yet).
        const reset = Math.ceil(((Math.floor(now / rate.windowMs) + 1) * rate.windowMs - now) / 1000);
        if (used > rate.requests && reset > retryAfter) {
          retryAfter = reset;
          exceeded = rate;
        }
        state += `${i === 0 ? '' : ', '}${rate.item};r=${used >= rate.requests ? 0 : rate.requests - used};t=${reset}`;
      }
      if (exceeded === undefined) {
        if (always) addRateLimitHeaders((ctx.responseHeaders ??= {}), plan.policyItems, state);
        return;
      }
      for (let i = 0; i < rates.length; i++) {
        if (hits[i]! <= rates[i]!.requests) counters.refund(plan.windows[i]!, keys[i]!, shared);
      }
      addRateLimitHeaders((ctx.responseHeaders ??= {}), plan.policyItems, state);
      throw new GatewayError(
        'limit.rate_exceeded',
        `Plan "${plan.id}" allows ${exceeded.requests} requests per ${exceeded.windowMs / 1000} s; retry in ${retryAfter} s.`,
        { headers: { 'retry-after': String(retryAfter) } },
      );
    }

    // Synchronous when the caller's plan limits no rate: no promise for that request.
    return function rateLimit(_req, _res, ctx) {
      const consumer = ctx.consumer;
      const plan = consumer?.plan === undefined ? undefined : plans.get(consumer.plan);
      if (plan === undefined) return undefined;
      return countRates(plan, consumer!.id, ctx);
    };
  },
});
