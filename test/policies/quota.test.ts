/**
 * `quota` through real gateways with API-key consumers and a stepped clock, on the memory store
 * and on real Redis: calendar days and months (UTC) with 429 `limit.quota_exceeded`,
 * `Retry-After` until the period ends and the IETF RateLimit headers; quotas are separate from
 * rates and sit beside them in the headers; requests refused by the rate limit, by RBAC, by the
 * quota itself or answered with a gateway problem do not consume quota; two nodes sharing Redis
 * admit exactly the quota under concurrent load.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import type { PlanSpec } from '../../contracts/index.js';
import type { RedisClient } from '../../policies/index.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { keyedConsumer, limitedApi, limitedPlan, limitsOf, steppedClock } from '../support/limits.js';
import { requireRedis } from '../support/redis.js';
import { echo, startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

interface Backend {
  redis: RedisClient | undefined;
  prefix: string;
  /** Another connection to the same store (a second node), for Redis. */
  connect(): Promise<RedisClient>;
}

/** The memory store, or a real Redis (skipped loudly locally / failing under CI without one). */
async function backendFor(t: TestContext, kind: 'memory' | 'redis'): Promise<Backend | undefined> {
  if (kind === 'memory') {
    return { redis: undefined, prefix: 'gatehouse:rl:', connect: () => Promise.reject(new Error('memory has no second node')) };
  }
  const redis = await requireRedis(t);
  if (redis === undefined) return undefined;
  t.after(() => redis.close());
  return { redis: redis.client, prefix: redis.prefix, connect: () => redis.connect() };
}

interface Setup {
  gw: TestGateway;
  upstream: RecordingUpstream;
  clock: ReturnType<typeof steppedClock>;
  call(key: string, init?: RequestInit): Promise<Response>;
}

async function setUp(t: TestContext, backend: Backend, plans: PlanSpec[], consumers: ReturnType<typeof keyedConsumer>[], at: string): Promise<Setup> {
  const upstream = await startRecordingUpstream();
  t.after(() => upstream.close());
  const clock = steppedClock(at);
  const gw = await startTestGateway({
    clock,
    ...(backend.redis === undefined ? {} : { redis: backend.redis }),
    snapshot: buildSnapshot({
      apis: [
        limitedApi('orders', upstream.url, [
          { policy: 'rate-limit', config: { keyPrefix: backend.prefix } },
          { policy: 'quota', config: { keyPrefix: backend.prefix } },
        ]),
      ],
      plans,
      consumers: consumers.map((c) => c.consumer),
    }),
  });
  t.after(() => gw.close());
  return {
    gw,
    upstream,
    clock,
    call: (key, init = {}) => fetch(`${gw.url}/orders/v1/orders`, { ...init, headers: { 'x-api-key': key, ...(init.headers as Record<string, string>) } }),
  };
}

async function drained(response: Response): Promise<Response> {
  if (!response.bodyUsed) await response.arrayBuffer();
  return response;
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`quota (${kind} store)`, () => {
    it('counts per calendar day (UTC) and renews at midnight, with Retry-After until then', async (t) => {
      const backend = await backendFor(t, kind);
      if (backend === undefined) return;
      const daily = limitedPlan('daily', { rates: [], quotas: [{ requests: 3, period: 'day' }], onStoreFailure: 'failOpen' });
      const storefront = keyedConsumer('storefront', 'daily', ['orders']);
      const { call, clock, upstream } = await setUp(t, backend, [daily], [storefront], '2026-11-01T23:59:00.000Z');

      for (const remaining of [2, 1, 0]) {
        const ok = await drained(await call(storefront.key));
        assert.equal(ok.status, 200);
        assert.deepEqual(limitsOf(ok), { 'daily-day': { q: 3, w: 86_400, r: remaining, t: 60 } });
      }
      const refused = await call(storefront.key);
      assert.equal(refused.status, 429);
      const problem = (await refused.json()) as { code: string; detail: string };
      assert.equal(problem.code, 'limit.quota_exceeded');
      assert.match(problem.detail, /3 requests per day; the quota renews at 2026-11-02T00:00:00.000Z/);
      assert.equal(refused.headers.get('retry-after'), '60');
      assert.deepEqual(limitsOf(refused), { 'daily-day': { q: 3, w: 86_400, r: 0, t: 60 } });
      assert.equal(upstream.seen.length, 3);

      clock.set('2026-11-02T00:00:05.000Z');
      const renewed = await drained(await call(storefront.key));
      assert.equal(renewed.status, 200);
      assert.deepEqual(limitsOf(renewed), { 'daily-day': { q: 3, w: 86_400, r: 2, t: 86_395 } });
    });

    it("counts per calendar month, whose window is that month's length, beside the rate", async (t) => {
      const backend = await backendFor(t, kind);
      if (backend === undefined) return;
      const monthly = limitedPlan('monthly', {
        rates: [{ requests: 100, windowSeconds: 60 }],
        quotas: [
          { requests: 2, period: 'month' },
          { requests: 50, period: 'day' },
        ],
        onStoreFailure: 'failOpen',
      });
      const crm = keyedConsumer('crm-sync', 'monthly', ['orders']);
      const { call, clock } = await setUp(t, backend, [monthly], [crm], '2026-02-27T12:00:00.000Z');

      const first = await drained(await call(crm.key));
      assert.equal(first.status, 200);
      // Rate and quotas are separate policies, listed side by side in both headers.
      assert.deepEqual(limitsOf(first), {
        'monthly-60s': { q: 100, w: 60, r: 99, t: 60 },
        'monthly-month': { q: 2, w: 28 * 86_400, r: 1, t: 36 * 3600 },
        'monthly-day': { q: 50, w: 86_400, r: 49, t: 12 * 3600 },
      });
      clock.set('2026-02-28T23:00:00.000Z');
      assert.equal((await drained(await call(crm.key))).status, 200);
      const refused = await call(crm.key);
      assert.equal(refused.status, 429);
      assert.equal(((await refused.json()) as { code: string }).code, 'limit.quota_exceeded');
      assert.equal(refused.headers.get('retry-after'), '3600');

      clock.set('2026-03-01T00:00:00.000Z');
      const march = await drained(await call(crm.key));
      assert.equal(march.status, 200);
      assert.deepEqual(limitsOf(march)['monthly-month'], { q: 2, w: 31 * 86_400, r: 1, t: 31 * 86_400 });
    });

    it('does not count requests refused by the rate limit, by RBAC, or answered with a gateway problem', async (t) => {
      const backend = await backendFor(t, kind);
      if (backend === undefined) return;
      const plan = limitedPlan('metered', { rates: [{ requests: 2, windowSeconds: 60 }], quotas: [{ requests: 5, period: 'day' }], onStoreFailure: 'failOpen' });
      const finance = keyedConsumer('finance-jobs', 'metered', ['orders']);
      const { call, clock, upstream } = await setUp(t, backend, [plan], [finance], '2026-11-03T09:00:00.000Z');
      const quotaLeft = (response: Response): number | undefined => limitsOf(response)['metered-day']?.r;

      assert.equal(quotaLeft(await drained(await call(finance.key))), 4);
      assert.equal(quotaLeft(await drained(await call(finance.key))), 3);
      // Refused by the rate limit: the quota never saw it (no quota items in the headers).
      const rated = await drained(await call(finance.key));
      assert.equal(rated.status, 429);
      assert.equal(quotaLeft(rated), undefined);
      // Refused by RBAC (the plan does not grant orders:write).
      const forbidden = await drained(await call(finance.key, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }));
      assert.equal(forbidden.status, 403);

      clock.advance(60_000);
      // Admitted by the quota, then the upstream drops the connection: 502, given back.
      upstream.behave((_req, res) => res.socket?.destroy());
      const failed = await call(finance.key);
      assert.equal(failed.status, 502);
      assert.equal(((await failed.json()) as { code: string }).code, 'upstream.unavailable');
      upstream.behave(echo);
      const served = await drained(await call(finance.key));
      assert.equal(served.status, 200);
      assert.equal(quotaLeft(served), 2, 'three served requests so far, nothing else');
    });

    it('gives back what it refuses itself and what the client left before an answer', async (t) => {
      const backend = await backendFor(t, kind);
      if (backend === undefined) return;
      const plan = limitedPlan('small', { rates: [], quotas: [{ requests: 2, period: 'day' }], onStoreFailure: 'failOpen' });
      const storefront = keyedConsumer('storefront', 'small', ['orders']);
      const { call, upstream } = await setUp(t, backend, [plan], [storefront], '2026-11-04T09:00:00.000Z');

      assert.equal((await drained(await call(storefront.key))).status, 200);
      // Hold the next admitted request at the upstream: the quota (2) is now fully taken.
      let held: ServerResponse | undefined;
      upstream.behave((_req, res) => {
        held = res;
      });
      const abort = new AbortController();
      const pending = call(storefront.key, { signal: abort.signal }).catch((error: unknown) => error);
      while (held === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      for (let i = 0; i < 3; i++) {
        const refused = await drained(await call(storefront.key));
        assert.equal(refused.status, 429, 'the quota is taken');
      }
      // The client gives up before any answer: the held request is given back too.
      abort.abort();
      await pending;
      upstream.behave(echo);
      held.destroy();
      // Count: 1 served; the held one and the three refusals all given back.
      let next: Response | undefined;
      for (let i = 0; i < 50; i++) {
        next = await drained(await call(storefront.key));
        if (next.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(next?.status, 200);
      assert.equal(limitsOf(next!)['small-day']?.r, 0);
      assert.equal((await drained(await call(storefront.key))).status, 429);
    });
  });
}

describe('quota (Redis store, two gateway nodes)', () => {
  it('admits exactly the quota between two nodes under concurrent load and keeps only what was served', async (t) => {
    const backend = await backendFor(t, 'redis');
    if (backend === undefined) return;
    const quota = 20;
    const plan = limitedPlan('shared', { rates: [], quotas: [{ requests: quota, period: 'day' }], onStoreFailure: 'failClosed' });
    const storefront = keyedConsumer('storefront', 'shared', ['orders']);
    const first = await setUp(t, backend, [plan], [storefront], '2026-11-05T10:00:00.000Z');
    const second = await startTestGateway({
      clock: first.clock,
      redis: await backend.connect(),
      snapshot: buildSnapshot({
        apis: [limitedApi('orders', first.upstream.url, [{ policy: 'quota', config: { keyPrefix: backend.prefix } }])],
        plans: [plan],
        consumers: [storefront.consumer],
      }),
    });
    t.after(() => second.close());
    const nodes = [first.gw.url, second.url];

    const responses = await Promise.all(
      Array.from({ length: 3 * quota }, (_, i) => fetch(`${nodes[i % 2]}/orders/v1/orders`, { headers: { 'x-api-key': storefront.key } }).then(drained)),
    );
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, quota, statuses.join(' '));
    assert.equal(statuses.filter((s) => s === 429).length, 2 * quota);
    assert.equal(first.upstream.seen.length, quota);

    // The refusals were given back (asynchronously): the key holds exactly what was served.
    const key = `${backend.prefix}orders:1:shared:day:2026-11-05:storefront`;
    let stored: string | null = null;
    for (let i = 0; i < 100 && stored !== String(quota); i++) {
      stored = await backend.redis!.get(key);
      if (stored !== String(quota)) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(stored, String(quota));
    const ttl = await backend.redis!.pTTL(key);
    assert.ok(ttl > 86_400_000 && ttl <= 90_000_000, `the key outlives its day (${ttl} ms)`);
  });
});
