/**
 * `rate-limit` through real gateways with API-key consumers and a frozen clock: the plan's
 * rates admit exactly their requests, then 429 `limit.rate_exceeded` with `Retry-After` and
 * the IETF RateLimit headers; several rates; counts survive a publish; plans without limits
 * pass untouched; two gateway nodes sharing one real Redis admit exactly the limit between them
 * under concurrent load.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { keyedConsumer, limitedApi, limitedPlan, limitsOf, steppedClock } from '../support/limits.js';
import { requireRedis } from '../support/redis.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const gold = limitedPlan('gold', { rates: [{ requests: 3, windowSeconds: 60 }], quotas: [], onStoreFailure: 'failOpen' });
const tiered = limitedPlan('tiered', {
  rates: [
    { requests: 2, windowSeconds: 10 },
    { requests: 4, windowSeconds: 600 },
  ],
  quotas: [],
  onStoreFailure: 'failOpen',
});
const free = limitedPlan('free', undefined);

async function problemOf(response: Response): Promise<{ code: string; detail: string; status: number }> {
  assert.equal(response.headers.get('content-type'), 'application/problem+json');
  return (await response.json()) as { code: string; detail: string; status: number };
}

describe('rate-limit (memory store)', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  // 10 s into a minute, 10 s into a 10-s window … of the epoch-aligned windows.
  const clock = steppedClock('2026-11-02T10:00:10.000Z');
  const storefront = keyedConsumer('storefront', 'gold', ['orders']);
  const crm = keyedConsumer('crm-sync', 'tiered', ['orders']);
  const finance = keyedConsumer('finance-jobs', 'free', ['orders']);
  const snapshot = (generatedAt?: string) =>
    buildSnapshot({
      apis: [limitedApi('orders', upstream.url, [{ policy: 'rate-limit', config: {} }])],
      plans: [gold, tiered, free],
      consumers: [storefront.consumer, crm.consumer, finance.consumer],
      ...(generatedAt === undefined ? {} : { generatedAt }),
    });

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startTestGateway({ snapshot: snapshot(), clock });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.seen.length = 0;
  });

  const call = (key: string): Promise<Response> => fetch(`${gw.url}/orders/v1/orders`, { headers: { 'x-api-key': key } });

  it("admits the plan's rate, then answers 429 limit.rate_exceeded with Retry-After and the draft-8 headers", async () => {
    clock.set('2026-11-02T10:00:10.000Z');
    for (const remaining of [2, 1, 0]) {
      const ok = await call(storefront.key);
      assert.equal(ok.status, 200);
      await ok.arrayBuffer();
      assert.deepEqual(limitsOf(ok), { 'gold-60s': { q: 3, w: 60, r: remaining, t: 50 } });
    }
    const refused = await call(storefront.key);
    assert.equal(refused.status, 429);
    const problem = await problemOf(refused);
    assert.equal(problem.code, 'limit.rate_exceeded');
    assert.match(problem.detail, /3 requests per 60 s; retry in 50 s/);
    // draft-ietf-httpapi-ratelimit-headers-08: the policy (quota q in window w) and the state
    // (r remaining, t seconds until the window resets); Retry-After (RFC 9110 §10.2.3) in delta-seconds.
    assert.deepEqual(limitsOf(refused), { 'gold-60s': { q: 3, w: 60, r: 0, t: 50 } });
    assert.equal(refused.headers.get('retry-after'), '50');
    assert.equal(upstream.seen.length, 3, 'the refused request never reached the upstream');

    // The next window admits again, and t counts down within it.
    clock.set('2026-11-02T10:01:45.500Z');
    const next = await call(storefront.key);
    assert.equal(next.status, 200);
    assert.deepEqual(limitsOf(next), { 'gold-60s': { q: 3, w: 60, r: 2, t: 15 } });
  });

  it('with several rates, a request one refuses is not spent in the others', async () => {
    clock.set('2026-11-02T11:00:00.000Z');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(crm.key)).status);
    // Two per 10 s; the three refusals are given back to the 600-s window.
    assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
    clock.advance(10_000);
    const third = await call(crm.key);
    assert.equal(third.status, 200);
    assert.deepEqual(limitsOf(third), { 'tiered-10s': { q: 2, w: 10, r: 1, t: 10 }, 'tiered-600s': { q: 4, w: 600, r: 1, t: 590 } });
    assert.equal((await call(crm.key)).status, 200);
    clock.advance(10_000);
    // Now the 600-s window is spent: Retry-After is until it resets, not the 10-s one.
    const refused = await call(crm.key);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '580');
    assert.deepEqual(limitsOf(refused), { 'tiered-10s': { q: 2, w: 10, r: 1, t: 10 }, 'tiered-600s': { q: 4, w: 600, r: 0, t: 580 } });
    assert.match((await problemOf(refused)).detail, /4 requests per 600 s/);
  });

  it('keeps counting across a snapshot publish', async () => {
    clock.set('2026-11-02T12:00:00.000Z');
    assert.equal((await call(storefront.key)).status, 200);
    assert.equal((await call(storefront.key)).status, 200);
    const before = gw.gateway.currentHash();
    await gw.source.push(JSON.stringify(snapshot('2026-11-02T12:00:00.000Z')));
    assert.notEqual(gw.gateway.currentHash(), before);
    assert.equal((await call(storefront.key)).status, 200);
    assert.equal((await call(storefront.key)).status, 429);
  });

  it('lets a consumer whose plan has no limits through, without RateLimit headers', async () => {
    for (let i = 0; i < 5; i++) {
      const response = await call(finance.key);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('ratelimit'), null);
      assert.equal(response.headers.get('ratelimit-policy'), null);
    }
  });

  it('with headers: onRefusal, sends the RateLimit headers only on the 429', async () => {
    const quiet = await startTestGateway({
      clock,
      snapshot: buildSnapshot({
        apis: [limitedApi('orders', upstream.url, [{ policy: 'rate-limit', config: { headers: 'onRefusal' } }])],
        plans: [gold],
        consumers: [storefront.consumer],
      }),
    });
    try {
      clock.set('2026-11-02T13:00:00.000Z');
      for (let i = 0; i < 3; i++) {
        const ok = await fetch(`${quiet.url}/orders/v1/orders`, { headers: { 'x-api-key': storefront.key } });
        assert.equal(ok.status, 200);
        assert.equal(ok.headers.get('ratelimit'), null);
      }
      const refused = await fetch(`${quiet.url}/orders/v1/orders`, { headers: { 'x-api-key': storefront.key } });
      assert.equal(refused.status, 429);
      assert.deepEqual(limitsOf(refused), { 'gold-60s': { q: 3, w: 60, r: 0, t: 60 } });
    } finally {
      await quiet.close();
    }
  });

  it('refuses a snapshot binding it on a version without subscription (it could never limit anyone)', async () => {
    const before = gw.gateway.currentHash();
    const result = await gw.gateway.apply(
      JSON.stringify(
        buildSnapshot({
          apis: [
            httpApi('orders', upstream.url, [{ id: 'listOrders', method: 'GET', path: '/orders' }], {
              policies: [
                { policy: 'api-key', config: {} },
                { policy: 'rate-limit', config: {} },
              ],
            }),
          ],
          plans: [gold],
          consumers: [storefront.consumer],
        }),
      ),
      'test',
    );
    assert.equal(result.applied, false);
    assert.match(result.error ?? '', /rate-limit.*needs the subscription policy/);
    assert.equal(gw.gateway.currentHash(), before);
  });
});

describe('rate-limit (Redis store, two gateway nodes)', () => {
  it('admits exactly the limit between two nodes under concurrent load, and answers alike from both', async (t) => {
    const redis = await requireRedis(t);
    if (redis === undefined) return;
    t.after(() => redis.close());
    const upstream = await startRecordingUpstream();
    t.after(() => upstream.close());
    const clock = steppedClock('2026-11-02T14:00:20.000Z');
    const limit = 20;
    const storefront = keyedConsumer('storefront', 'burst', ['orders']);
    const snapshot = buildSnapshot({
      apis: [limitedApi('orders', upstream.url, [{ policy: 'rate-limit', config: { keyPrefix: redis.prefix } }])],
      plans: [limitedPlan('burst', { rates: [{ requests: limit, windowSeconds: 60 }], quotas: [], onStoreFailure: 'failClosed' })],
      consumers: [storefront.consumer],
    });
    const nodes = [
      await startTestGateway({ snapshot, clock, redis: redis.client }),
      await startTestGateway({ snapshot, clock, redis: await redis.connect() }),
    ];
    t.after(() => Promise.all(nodes.map((node) => node.close())));

    // 3× the limit at once, alternating between the nodes.
    const responses = await Promise.all(
      Array.from({ length: 3 * limit }, (_, i) => fetch(`${nodes[i % 2]!.url}/orders/v1/orders`, { headers: { 'x-api-key': storefront.key } })),
    );
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, limit, `exactly ${limit} admitted: ${statuses.join(' ')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 2 * limit);
    assert.equal(upstream.seen.length, limit, 'the upstream saw exactly the admitted requests');
    // Both nodes admitted some: the count really is shared, not one node doing all the work.
    for (const node of [0, 1]) assert.ok(responses.some((r, i) => i % 2 === node && r.status === 200), `node ${node} admitted requests`);

    const refused = responses.find((r) => r.status === 429)!;
    assert.deepEqual(limitsOf(refused), { 'burst-60s': { q: limit, w: 60, r: 0, t: 40 } });
    assert.equal(refused.headers.get('retry-after'), '40');
    assert.equal((await problemOf(refused)).code, 'limit.rate_exceeded');
    const remaining = responses.filter((r) => r.status === 200).map((r) => limitsOf(r)['burst-60s']!.r).sort((a, b) => a - b);
    assert.deepEqual(remaining, Array.from({ length: limit }, (_, i) => i), 'each admitted request saw its own count');
    await Promise.all(responses.filter((r) => !r.bodyUsed).map((r) => r.arrayBuffer()));

    // One key per consumer, API, major, plan and window; refusals stay counted in their window.
    const key = `${redis.prefix}orders:1:burst:60s:${Math.floor(clock.now() / 60_000)}:storefront`;
    assert.equal(await redis.client.get(key), String(3 * limit));
    const ttl = await redis.client.pTTL(key);
    assert.ok(ttl > 0 && ttl <= 60_000, `the key expires with its window (${ttl} ms)`);
  });
});
