/**
 * `cache` through real gateways, consumers authenticated by API key, in front of upstreams
 * that count calls: hits never reach the upstream, `Cache-Status` (RFC 9211) says what
 * happened, one consumer never gets another's entry unless the operation is shared, `no-store`
 * / `private` / non-200 answers are not kept, HEAD is answered from the GET entry, stale
 * entries answer when the upstream is down (and only within the window), the admin route
 * purges by key prefix behind its token, and two nodes share one Redis store.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createClient } from 'redis';
import type { ApiSpec, ConsumerSpec } from '../../contracts/index.js';
import type { RedisClient } from '../../policies/index.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { twoKeyedConsumers } from '../support/consumers.js';
import { requireRedis } from '../support/redis.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const STOREFRONT_KEY = 'gh_live_Cach0001.PLANTED-storefront-secret-1';
const CRM_KEY = 'gh_live_Cach0002.PLANTED-crm-secret-2';
const ADMIN_TOKEN = 'PLANTED-admin-token-0123456789abcdef';

function consumers(apis: string[]): ConsumerSpec[] {
  return twoKeyedConsumers(apis, { storefront: STOREFRONT_KEY, crm: CRM_KEY });
}

const CATALOG_OPERATIONS = [
  { id: 'listProducts', method: 'GET' as const, path: '/products' },
  { id: 'getProduct', method: 'GET' as const, path: '/products/{id}' },
  { id: 'listPrices', method: 'GET' as const, path: '/prices' },
  { id: 'noStore', method: 'GET' as const, path: '/nostore' },
  { id: 'privateData', method: 'GET' as const, path: '/private' },
  { id: 'missing', method: 'GET' as const, path: '/missing' },
  { id: 'stock', method: 'GET' as const, path: '/stock' },
  { id: 'createProduct', method: 'POST' as const, path: '/products' },
];

function catalogApi(slug: string, baseUrl: string, config: Record<string, unknown>): ApiSpec {
  return httpApi(slug, baseUrl, CATALOG_OPERATIONS, {
    policies: [
      { policy: 'api-key', config: {} },
      { policy: 'subscription', config: {} },
      { policy: 'cache', config },
    ],
  });
}

/** Answers JSON naming the consumer that asked and a call counter, with per-path cache headers. */
function catalogUpstream(upstream: RecordingUpstream): void {
  let calls = 0;
  upstream.behave((req, res) => {
    calls++;
    const path = req.url.split('?')[0]!;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-upstream': 'catalog' };
    if (path === '/nostore') headers['cache-control'] = 'no-store';
    if (path === '/private') headers['cache-control'] = 'private, max-age=60';
    const body = JSON.stringify({ url: req.url, consumer: req.headers['x-gatehouse-consumer'], accept: req.headers.accept, call: calls });
    res.writeHead(path === '/missing' ? 404 : 200, { ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}

const get = (base: string, path: string, key = STOREFRONT_KEY, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> =>
  fetch(`${base}${path}`, { method, headers: { 'x-api-key': key, ...headers } });

function purge(statusUrl: string, prefix: string, token: string | null = ADMIN_TOKEN, method = 'POST'): Promise<Response> {
  return fetch(`${statusUrl}/admin/cache/purge`, {
    method,
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    ...(method === 'POST' ? { body: JSON.stringify({ prefix }) } : {}),
  });
}

describe('cache (embedded memory store)', () => {
  let upstream: RecordingUpstream;
  let flaky: RecordingUpstream;
  let gw: TestGateway;
  const clock = { t: Date.parse('2026-11-02T10:00:00.000Z'), now(): number { return this.t; } };
  const calls = (path: string): number => upstream.seen.filter((r) => r.url === path).length;

  before(async () => {
    upstream = await startRecordingUpstream();
    catalogUpstream(upstream);
    flaky = await startRecordingUpstream();
    catalogUpstream(flaky);
    const config = { ttlSeconds: 30, staleIfErrorSeconds: 60, operations: { listPrices: { shared: true }, stock: { enabled: false }, getProduct: { ttlSeconds: 5 } } };
    gw = await startTestGateway({
      clock,
      adminToken: ADMIN_TOKEN,
      snapshot: buildSnapshot({
        apis: [catalogApi('catalog', upstream.url, config), catalogApi('flaky', flaky.url, config)],
        plans: [{ id: 'standard', name: 'Standard', scopes: [] }],
        consumers: consumers(['catalog', 'flaky']),
      }),
    });
  });

  after(async () => {
    await gw.close();
    await upstream.close();
    await flaky.close();
  });

  beforeEach(() => {
    upstream.seen.length = 0;
  });

  it('stores on a miss and answers the next request from the cache (the upstream is called once)', async () => {
    const first = await get(gw.url, '/catalog/v1/products?page=1');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-status'), 'gatehouse; fwd=uri-miss; fwd-status=200; stored; ttl=30');
    const body = await first.text();

    clock.t += 10_000;
    const second = await get(gw.url, '/catalog/v1/products?page=1');
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('cache-status'), 'gatehouse; hit; ttl=20');
    assert.equal(second.headers.get('age'), '10');
    assert.equal(await second.text(), body);
    assert.equal(second.headers.get('content-type'), 'application/json');
    assert.equal(second.headers.get('x-upstream'), 'catalog');
    assert.notEqual(second.headers.get('x-request-id'), first.headers.get('x-request-id'));
    assert.equal(calls('/products?page=1'), 1);

    // Another query string is another entry.
    assert.match((await get(gw.url, '/catalog/v1/products?page=2')).headers.get('cache-status') ?? '', /fwd=uri-miss/);
    assert.equal(calls('/products?page=2'), 1);
  });

  it('keys by consumer: another consumer never gets the entry; a shared operation serves everyone', async () => {
    await get(gw.url, '/catalog/v1/products/42');
    const theirs = await get(gw.url, '/catalog/v1/products/42', CRM_KEY);
    assert.match(theirs.headers.get('cache-status') ?? '', /^gatehouse; fwd=uri-miss/);
    assert.equal(((await theirs.json()) as { consumer: string }).consumer, 'crm-sync');
    const mine = await get(gw.url, '/catalog/v1/products/42');
    assert.match(mine.headers.get('cache-status') ?? '', /^gatehouse; hit/);
    assert.equal(((await mine.json()) as { consumer: string }).consumer, 'storefront');
    assert.equal(calls('/products/42'), 2);

    await get(gw.url, '/catalog/v1/prices');
    const shared = await get(gw.url, '/catalog/v1/prices', CRM_KEY);
    assert.match(shared.headers.get('cache-status') ?? '', /^gatehouse; hit/);
    assert.equal(calls('/prices'), 1);
  });

  it('keys by the Vary-relevant request headers (Accept)', async () => {
    await get(gw.url, '/catalog/v1/products?vary', STOREFRONT_KEY, { accept: 'application/json' });
    const other = await get(gw.url, '/catalog/v1/products?vary', STOREFRONT_KEY, { accept: 'text/csv' });
    assert.match(other.headers.get('cache-status') ?? '', /fwd=uri-miss/);
    assert.match((await get(gw.url, '/catalog/v1/products?vary', STOREFRONT_KEY, { accept: 'text/csv' })).headers.get('cache-status') ?? '', /^gatehouse; hit/);
    assert.equal(calls('/products?vary'), 2);
  });

  it('does not keep no-store, private or non-200 answers, nor POSTs, nor operations it is disabled for', async () => {
    for (const [path, detail] of [
      ['/nostore', 'no-store'],
      ['/private', 'private'],
      ['/missing', 'status'],
    ] as const) {
      for (let i = 0; i < 2; i++) {
        const response = await get(gw.url, `/catalog/v1${path}`);
        assert.equal(response.headers.get('cache-status'), `gatehouse; fwd=uri-miss; fwd-status=${path === '/missing' ? 404 : 200}; detail=${detail}`);
      }
      assert.equal(calls(path), 2, path);
    }
    for (let i = 0; i < 2; i++) {
      const created = await fetch(`${gw.url}/catalog/v1/products`, { method: 'POST', body: '{}', headers: { 'x-api-key': STOREFRONT_KEY, 'content-type': 'application/json' } });
      assert.equal(created.headers.get('cache-status'), null);
      const stock = await get(gw.url, '/catalog/v1/stock');
      assert.equal(stock.headers.get('cache-status'), null);
    }
    assert.equal(upstream.seen.filter((r) => r.method === 'POST').length, 2);
    assert.equal(calls('/stock'), 2);
  });

  it('answers HEAD from the GET entry (no body, the GET length) and forwards HEAD misses without storing', async () => {
    const full = await get(gw.url, '/catalog/v1/products?head=1');
    const length = (await full.arrayBuffer()).byteLength;
    const head = await get(gw.url, '/catalog/v1/products?head=1', STOREFRONT_KEY, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.match(head.headers.get('cache-status') ?? '', /^gatehouse; hit/);
    assert.equal(head.headers.get('content-length'), String(length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.equal(calls('/products?head=1'), 1);

    const headMiss = await get(gw.url, '/catalog/v1/products?head=2', STOREFRONT_KEY, {}, 'HEAD');
    assert.equal(headMiss.headers.get('cache-status'), 'gatehouse; fwd=uri-miss');
    assert.match((await get(gw.url, '/catalog/v1/products?head=2')).headers.get('cache-status') ?? '', /fwd=uri-miss; fwd-status=200; stored/);
    assert.equal(calls('/products?head=2'), 2);
    assert.equal(upstream.seen.find((r) => r.url === '/products?head=2')?.method, 'HEAD');
  });

  it('forwards once the TTL has passed (per-operation TTL) and stores the fresh answer', async () => {
    await get(gw.url, '/catalog/v1/products/7');
    clock.t += 4_000;
    assert.match((await get(gw.url, '/catalog/v1/products/7')).headers.get('cache-status') ?? '', /^gatehouse; hit; ttl=1$/);
    clock.t += 2_000;
    const stale = await get(gw.url, '/catalog/v1/products/7');
    assert.equal(stale.headers.get('cache-status'), 'gatehouse; fwd=stale; fwd-status=200; stored; ttl=5');
    assert.match((await get(gw.url, '/catalog/v1/products/7')).headers.get('cache-status') ?? '', /^gatehouse; hit/);
    assert.equal(calls('/products/7'), 2);
  });

  it('serves a stale entry when the upstream is down (stale-if-error), and the problem once past the window', async () => {
    const fresh = await get(gw.url, '/flaky/v1/products');
    const body = await fresh.text();
    await flaky.close();
    clock.t += 31_000; // stale: past the 30 s TTL, within the 60 s stale-if-error window

    const stale = await get(gw.url, '/flaky/v1/products');
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('cache-status'), 'gatehouse; fwd=stale; detail=stale-if-error');
    assert.equal(stale.headers.get('age'), '31');
    assert.equal(await stale.text(), body);

    const head = await get(gw.url, '/flaky/v1/products', STOREFRONT_KEY, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('cache-status'), 'gatehouse; fwd=stale; detail=stale-if-error');

    // Another consumer has no entry of its own: the upstream's failure is its answer (refused,
    // or by now the circuit breaker's 503, depending on how many failures it has counted).
    const theirs = await get(gw.url, '/flaky/v1/products', CRM_KEY);
    assert.match(String(theirs.status), /^50[23]$/);
    assert.match(((await theirs.json()) as { code: string }).code, /^upstream\.(unavailable|circuit_open)$/);

    // With the breaker open the stale entry still answers.
    const again = await get(gw.url, '/flaky/v1/products');
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('cache-status'), 'gatehouse; fwd=stale; detail=stale-if-error');

    clock.t += 60_000; // past TTL + window
    const gone = await get(gw.url, '/flaky/v1/products');
    assert.match(String(gone.status), /^50[23]$/);
    assert.equal(gone.headers.get('content-type'), 'application/problem+json');
    assert.equal(gone.headers.get('cache-status'), 'gatehouse; fwd=uri-miss', 'past its window the entry is gone');
    assert.match(((await gone.json()) as { code: string }).code, /^upstream\.(unavailable|circuit_open)$/);
  });

  it('purges by key prefix through the admin route, behind the operator token', async () => {
    await get(gw.url, '/catalog/v1/products?purge=1');
    await get(gw.url, '/catalog/v1/products?purge=1', CRM_KEY);
    await get(gw.url, '/catalog/v1/prices?purge=1');

    const missing = await purge(gw.statusUrl, 'catalog/v1/products', null);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('content-type'), 'application/problem+json');
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse-admin"/);
    assert.equal(((await missing.json()) as { code: string }).code, 'auth.token_missing');
    const wrong = await purge(gw.statusUrl, 'catalog/v1/products', `${ADMIN_TOKEN}x`);
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { code: string }).code, 'auth.token_invalid');
    const asGet = await purge(gw.statusUrl, 'catalog/v1/products', ADMIN_TOKEN, 'GET');
    assert.equal(asGet.status, 405);
    assert.equal(asGet.headers.get('allow'), 'POST');
    const empty = await purge(gw.statusUrl, '');
    assert.equal(empty.status, 400);
    assert.equal(((await empty.json()) as { code: string }).code, 'request.malformed_body');
    assert.match((await get(gw.url, '/catalog/v1/products?purge=1')).headers.get('cache-status') ?? '', /^gatehouse; hit/, 'refused purges purge nothing');

    const done = await purge(gw.statusUrl, 'catalog/v1/products?purge');
    assert.equal(done.status, 200);
    assert.deepEqual(await done.json(), { prefix: 'catalog/v1/products?purge', purged: 2 });
    assert.match((await get(gw.url, '/catalog/v1/products?purge=1')).headers.get('cache-status') ?? '', /fwd=uri-miss/);
    assert.match((await get(gw.url, '/catalog/v1/products?purge=1', CRM_KEY)).headers.get('cache-status') ?? '', /fwd=uri-miss/);
    assert.match((await get(gw.url, '/catalog/v1/prices?purge=1')).headers.get('cache-status') ?? '', /^gatehouse; hit/, 'other paths stay');
    assert.ok(gw.logLines().every((line) => !line.includes(ADMIN_TOKEN)), 'the token is never logged');
  });

  it('has no admin route without a configured token', async () => {
    const bare = await startTestGateway({
      snapshot: buildSnapshot({ apis: [catalogApi('catalog', upstream.url, {})], plans: [{ id: 'standard', name: 'Standard', scopes: [] }], consumers: consumers(['catalog']) }),
    });
    try {
      const response = await purge(bare.statusUrl, 'catalog/v1/products');
      assert.equal(response.status, 404);
      assert.equal(((await response.json()) as { code: string }).code, 'route.not_found');
    } finally {
      await bare.close();
    }
  });

  it('rejects a snapshot whose cache config names an unknown or non-GET operation', async () => {
    const hash = gw.gateway.currentHash();
    for (const operations of [{ nope: {} }, { createProduct: { ttlSeconds: 5 } }]) {
      const bad = buildSnapshot({ apis: [catalogApi('catalog', upstream.url, { operations })], plans: [{ id: 'standard', name: 'Standard', scopes: [] }], consumers: consumers(['catalog']) });
      const result = await gw.gateway.apply(JSON.stringify(bad), 'test');
      assert.equal(result.applied, false);
      assert.match(result.error ?? '', /policy "cache" failed to build: operations\.(nope|createProduct)/);
    }
    assert.equal(gw.gateway.currentHash(), hash);
  });
});

describe('cache in Redis shared by two gateway nodes', () => {
  it('stores on one node, hits on the other, serves stale-if-error from Redis, and purges for both through either admin route', async (t) => {
    const redis = await requireRedis(t);
    if (redis === undefined) return;
    t.after(() => redis.close());
    const upstream = await startRecordingUpstream();
    catalogUpstream(upstream);
    t.after(() => upstream.close());
    const nodes = await twoNodes(redis.client, await redis.connect(), upstream.url, redis.prefix);
    t.after(() => Promise.all(nodes.map((n) => n.close())));
    const [a, b] = nodes as [TestGateway, TestGateway];

    const first = await get(a.url, '/catalog/v1/products/1');
    assert.match(first.headers.get('cache-status') ?? '', /stored/);
    const body = await first.text();
    await new Promise((r) => setTimeout(r, 50)); // the store is written as the answer leaves
    const hit = await get(b.url, '/catalog/v1/products/1');
    assert.match(hit.headers.get('cache-status') ?? '', /^gatehouse; hit/);
    assert.equal(await hit.text(), body);
    assert.equal(upstream.seen.length, 1);
    assert.match((await get(b.url, '/catalog/v1/products/1', CRM_KEY)).headers.get('cache-status') ?? '', /fwd=uri-miss/, 'per consumer in Redis too');
    await new Promise((r) => setTimeout(r, 50));

    const keys = await redis.client.keys(`${redis.prefix}*`);
    assert.equal(keys.length, 2);
    assert.ok(keys.every((k) => k.startsWith(`${redis.prefix}cache:catalog/v1/products/1#c:`)), keys.join(', '));

    const purged = await purge(b.statusUrl, 'catalog/v1/products/1');
    assert.deepEqual(await purged.json(), { prefix: 'catalog/v1/products/1', purged: 2 });
    assert.match((await get(a.url, '/catalog/v1/products/1')).headers.get('cache-status') ?? '', /fwd=uri-miss/);
    await new Promise((r) => setTimeout(r, 50));

    // TTL is 1 s, stale window 60 s: after the TTL, with the upstream gone, node B answers stale.
    await upstream.close();
    await new Promise((r) => setTimeout(r, 1100));
    const stale = await get(b.url, '/catalog/v1/products/1');
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('cache-status'), 'gatehouse; fwd=stale; detail=stale-if-error');
  });
});

describe('cache when the Redis store is unreachable', () => {
  it('forwards every request uncached, never refusing one', async (t) => {
    const upstream = await startRecordingUpstream();
    catalogUpstream(upstream);
    t.after(() => upstream.close());
    const dead: RedisClient = createClient({ url: 'redis://127.0.0.1:1', disableOfflineQueue: true });
    const gw = await startTestGateway({
      redis: dead,
      snapshot: buildSnapshot({ apis: [catalogApi('catalog', upstream.url, {})], plans: [{ id: 'standard', name: 'Standard', scopes: [] }], consumers: consumers(['catalog']) }),
    });
    t.after(() => gw.close());
    for (let i = 0; i < 2; i++) {
      const response = await get(gw.url, '/catalog/v1/products');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('cache-status') ?? '', /^gatehouse; fwd=uri-miss/);
    }
    assert.equal(upstream.seen.length, 2);
    assert.ok(gw.logLines().some((line) => line.includes('cache store failed')));
  });
});

async function twoNodes(a: RedisClient, b: RedisClient, upstreamUrl: string, prefix: string): Promise<TestGateway[]> {
  const snapshot = buildSnapshot({
    apis: [catalogApi('catalog', upstreamUrl, { ttlSeconds: 1, staleIfErrorSeconds: 60, redisKeyPrefix: `${prefix}cache:` })],
    plans: [{ id: 'standard', name: 'Standard', scopes: [] }],
    consumers: consumers(['catalog']),
  });
  return Promise.all([startTestGateway({ snapshot, redis: a, adminToken: ADMIN_TOKEN }), startTestGateway({ snapshot, redis: b, adminToken: ADMIN_TOKEN })]);
}
