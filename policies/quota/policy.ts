/**
 * @module `quota`: each consumer may make its plan's `limits.quotas` — `requests` per calendar
 * day or month (UTC) — per API version; beyond, 429 `limit.quota_exceeded` with `Retry-After`
 * (until the period ends) and the IETF `RateLimit-Policy` / `RateLimit` headers. Counted per
 * consumer + API + major + plan + period, in Redis when the gateway has it and in node memory
 * otherwise; with Redis unreachable the plan's `onStoreFailure` decides, as for rates.
 *
 * Rejected requests do not consume quota. The policy runs last, just before the proxy, so a
 * request refused by any policy (authentication, RBAC, the rate limit, contract validation,
 * ownership, …) or answered from the gateway's own copy (idempotent replay, cache) never
 * reaches it. What it admits is counted at once (the count is the admission check, atomic in
 * Redis, so concurrent requests on any number of nodes never overshoot) and given back when
 * the exchange closes if the answer was a gateway problem (upstream unreachable or timed out,
 * circuit open, an upstream error the adapter maps to a problem) or none was sent (the client
 * left first). A request this policy refuses is given back at once. So the quota counts what
 * was actually served: upstream answers, relayed as they are.
 */
import type { RequestContext } from '../../contracts/index.js';
import { definePolicy, type PolicyResponse } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import {
  addRateLimitHeaders,
  createLimitCounters,
  createPeriodClock,
  periodWindow,
  requireSubscription,
  type Period,
  type PeriodCounters,
  type StoreFailureMode,
  type WindowCounters,
} from '../limit-counters.js';
import { quotaSchema, type QuotaConfig } from './schema.js';

interface CompiledQuota {
  readonly requests: number;
  readonly unit: 'day' | 'month';
  /** `{prefix}{api}:{major}:{plan}:{day|month}:` — the period label and consumer id follow. */
  readonly keyBase: string;
  /** `"gold-day"` */
  readonly item: string;
  readonly periodOf: (now: number) => Period;
  readonly window: PeriodCounters;
}

interface CompiledPlan {
  readonly id: string;
  readonly quotas: readonly CompiledQuota[];
  readonly windows: readonly WindowCounters[];
  readonly mode: StoreFailureMode;
  /** `RateLimit-Policy` items, rebuilt only when a month quota enters another month (its `w` changes). */
  policyItems: { month: number; items: string };
}

/** Marks the response of a request this policy counted: where it was counted. */
const COUNTED = Symbol('gatehouse.quota.counted');
const IN_MEMORY = 1;
const IN_REDIS = 2;
type CountedResponse = PolicyResponse & { [COUNTED]?: number };

/**
 * @param config.keyPrefix defaults to `gatehouse:rl:`
 * @param config.headers defaults to `always`
 * @example
 * // a version's policies in a snapshot; the consumer's plan carries
 * // "limits": { "rates": [], "quotas": [{ "requests": 10000, "period": "day" }], "onStoreFailure": "failOpen" }
 * { "policy": "subscription", "config": {} }, { "policy": "quota", "config": {} }
 */
export const quotaPolicy = definePolicy<QuotaConfig>({
  name: 'quota',
  // The lowest of the built-in policies: just before the proxy (see the module comment).
  priority: 100,
  schema: quotaSchema,
  create(config, deps) {
    const { api, major } = requireSubscription(deps, 'quota');
    const clocks = { day: createPeriodClock('day'), month: createPeriodClock('month') };
    const plans = new Map<string, CompiledPlan>();
    for (const [id, plan] of deps.directory.plans) {
      const quotas = plan.limits?.quotas ?? [];
      if (plan.limits === undefined || quotas.length === 0) continue;
      const compiled = quotas.map(
        (quota): CompiledQuota => ({
          requests: quota.requests,
          unit: quota.period,
          keyBase: `${config.keyPrefix}${api}:${major}:${id}:${quota.period}:`,
          item: `"${id}-${quota.period}"`,
          periodOf: clocks[quota.period],
          window: periodWindow(deps, quota.period),
        }),
      );
      plans.set(id, {
        id,
        quotas: compiled,
        windows: compiled.map((quota) => quota.window),
        mode: plan.limits.onStoreFailure,
        policyItems: { month: Number.NaN, items: '' },
      });
    }
    if (plans.size === 0) return {};

    const counters = createLimitCounters(deps, 'quota');
    const always = config.headers === 'always';

    /** The plan limiting this request's caller, if any. */
    function planOf(ctx: RequestContext): CompiledPlan | undefined {
      const planId = ctx.consumer?.plan;
      return planId === undefined ? undefined : plans.get(planId);
    }

    /** The plan's `RateLimit-Policy` items; a month's window is that month's length (28 to 31 days). */
    function policyItemsOf(plan: CompiledPlan, now: number): string {
      const month = clocks.month(now).start;
      const cached = plan.policyItems;
      if (cached.month === month) return cached.items;
      const items = plan.quotas.map((quota) => {
        const period = quota.periodOf(now);
        return `${quota.item};q=${quota.requests};w=${(period.end - period.start) / 1000}`;
      });
      plan.policyItems = { month, items: items.join(', ') };
      return plan.policyItems.items;
    }

    /** Keys of a request, by the time it was received (so the end hook finds the same ones). */
    function keysOf(plan: CompiledPlan, ctx: RequestContext): string[] {
      const keys: string[] = [];
      for (const quota of plan.quotas) keys.push(`${quota.keyBase}${quota.periodOf(ctx.receivedAt).label}:${ctx.consumer!.id}`);
      return keys;
    }

    async function countQuotas(plan: CompiledPlan, res: CountedResponse, ctx: RequestContext): Promise<void> {
      const now = ctx.receivedAt;
      const { quotas } = plan;
      for (const quota of quotas) quota.window.local.roll(quota.periodOf(now).label);
      const keys = keysOf(plan, ctx);
      const { hits, shared } = await counters.count(plan.windows, keys, plan.mode);

      let state = '';
      let retryAfter = 0;
      let exceeded: { quota: CompiledQuota; period: Period } | undefined;
      for (let i = 0; i < quotas.length; i++) {
        const quota = quotas[i]!;
        const used = hits[i]!;
        const period = quota.periodOf(now);
        const reset = Math.ceil((period.end - now) / 1000);
        if (used > quota.requests && reset > retryAfter) {
          retryAfter = reset;
          exceeded = { quota, period };
        }
        state += `${i === 0 ? '' : ', '}${quota.item};r=${used >= quota.requests ? 0 : quota.requests - used};t=${reset}`;
      }
      if (exceeded === undefined) {
        res[COUNTED] = shared ? IN_REDIS : IN_MEMORY;
        if (always) addRateLimitHeaders((ctx.responseHeaders ??= {}), policyItemsOf(plan, now), state);
        return;
      }
      for (let i = 0; i < quotas.length; i++) counters.refund(plan.windows[i]!, keys[i]!, shared);
      addRateLimitHeaders((ctx.responseHeaders ??= {}), policyItemsOf(plan, now), state);
      const { quota, period } = exceeded;
      throw new GatewayError(
        'limit.quota_exceeded',
        `Plan "${plan.id}" allows ${quota.requests} requests per ${quota.unit}; the quota renews at ${new Date(period.end).toISOString()}.`,
        { headers: { 'retry-after': String(retryAfter) } },
      );
    }

    return {
      handle: function quota(_req, res, ctx) {
        const plan = planOf(ctx);
        if (plan === undefined) return undefined;
        return countQuotas(plan, res, ctx);
      },
      onEnd: function giveBackUnserved(_req, res, ctx) {
        const counted = (res as CountedResponse)[COUNTED];
        if (counted === undefined) return;
        // Served: an answer that is not a gateway problem went out (at least its head).
        if (res.headersSent && ctx.decision === 'allow') return;
        const plan = planOf(ctx);
        if (plan === undefined) return;
        const keys = keysOf(plan, ctx);
        for (let i = 0; i < keys.length; i++) counters.refund(plan.windows[i]!, keys[i]!, counted === IN_REDIS);
      },
    };
  },
});
