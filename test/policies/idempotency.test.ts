/**
 * `idempotency` through real gateways, consumers authenticated by API key, in front of an
 * upstream that counts creates: replay without an upstream call, payload mismatch (422), in
 * flight (409), required key (400), malformed keys, per-consumer records, TTL expiry on a
 * stepped clock, keys released when the upstream fails or the client leaves, and two nodes
 * sharing one real Redis firing the same key at once (the upstream sees exactly one create).
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createClient } from 'redis';
import type { ApiSpec, ConsumerSpec } from '../../contracts/index.js';
import type { RedisClient } from '../../policies/index.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { twoKeyedConsumers } from '../support/consumers.js';
import { requireRedis } from '../support/redis.js';
import { startRecordingUpstream, type RecordingUpstream, type SeenRequest } from '../support/upstream.js';
import { until } from '../support/until.js';

const STOREFRONT_KEY = 'gh_live_Idem0001.PLANTED-storefront-secret-1';
const CRM_KEY = 'gh_live_Idem0002.PLANTED-crm-secret-2';

function consumers(apis: string[]): ConsumerSpec[] {
  return twoKeyedConsumers(apis, { storefront: STOREFRONT_KEY, crm: CRM_KEY });
}

const ORDER_OPERATIONS = [
  { id: 'listOrders', method: 'GET' as const, path: '/orders' },
  { id: 'createOrder', method: 'POST' as const, path: '/orders' },
  { id: 'quickOrder', method: 'POST' as const, path: '/quick-orders' },
  { id: 'updateOrder', method: 'PATCH' as const, path: '/orders/{id}' },
  { id: 'addNote', method: 'POST' as const, path: '/notes' },
];

function ordersApi(slug: string, baseUrl: string, config: Record<string, unknown>): ApiSpec {
  return httpApi(slug, baseUrl, ORDER_OPERATIONS, {
    policies: [
      { policy: 'api-key', config: {} },
      { policy: 'subscription', config: {} },
      { policy: 'idempotency', config },
    ],
  });
}

/** An upstream that creates orders (201 + Location), can hold answers back, or fail with 502. */
function orderUpstream(upstream: RecordingUpstream): { hold(): () => void; failing: boolean; creates(): SeenRequest[] } {
  let gate: Promise<void> | undefined;
  const state = {
    failing: false,
    hold() {
      let open!: () => void;
      gate = new Promise<void>((resolve) => (open = resolve));
      return () => {
        gate = undefined;
        open();
      };
    },
    creates: () => upstream.seen.filter((r) => r.method === 'POST' || r.method === 'PATCH'),
  };
  let created = 0;
  upstream.behave((req, res: ServerResponse) => {
    const answer = (): void => {
      if (res.destroyed) return;
      if (state.failing) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('upstream broke');
        return;
      }
      created++;
      const body = JSON.stringify({ id: created, consumer: req.headers['x-gatehouse-consumer'], received: req.body });
      res.writeHead(req.method === 'POST' ? 201 : 200, {
        'content-type': 'application/json',
        location: `/orders/${created}`,
        'set-cookie': 'upstream-session=abc',
        'x-upstream-internal': 'not-kept',
      });
      res.end(body);
    };
    if (gate === undefined) answer();
    else void gate.then(answer);
  });
  return state;
}

function post(base: string, path: string, body: string, headers: Record<string, string> = {}, method = 'POST', signal?: AbortSignal): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    body,
    headers: { 'content-type': 'application/json', 'x-api-key': STOREFRONT_KEY, ...headers },
    ...(signal === undefined ? {} : { signal }),
  });
}

describe('idempotency (embedded memory store)', () => {
  let upstream: RecordingUpstream;
  let orders: ReturnType<typeof orderUpstream>;
  let gw: TestGateway;
  let closedPort: number;
  const clock = { t: Date.parse('2026-11-02T10:00:00.000Z'), now(): number { return this.t; } };

  before(async () => {
    upstream = await startRecordingUpstream();
    orders = orderUpstream(upstream);
    const gone = await startRecordingUpstream();
    closedPort = gone.port;
    await gone.close();
    gw = await startTestGateway({
      clock,
      snapshot: buildSnapshot({
        apis: [
          ordersApi('orders', upstream.url, { operations: { createOrder: { required: true, ttlSeconds: 60 } } }),
          ordersApi('down', `http://127.0.0.1:${closedPort}`, {}),
        ],
        plans: [{ id: 'standard', name: 'Standard', scopes: [] }],
        consumers: consumers(['orders', 'down']),
      }),
    });
  });

  after(async () => {
    await gw.close();
    await upstream.close();
  });

  beforeEach(() => {
    upstream.seen.length = 0;
    orders.failing = false;
  });

  it('replays the kept answer for the same key and payload without calling the upstream', async () => {
    const first = await post(gw.url, '/orders/v1/orders', '{"sku":"A-1","qty":2}', { 'idempotency-key': 'order-0001' });
    assert.equal(first.status, 201);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const created = await first.text();

    // The same object re-serialised (other key order, spacing) is the same payload.
    const again = await post(gw.url, '/orders/v1/orders', '{ "qty": 2, "sku": "A-1" }', { 'idempotency-key': 'order-0001' });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(await again.text(), created);
    assert.equal(again.headers.get('location'), '/orders/v1/orders/' + (JSON.parse(created) as { id: number }).id);
    assert.equal(again.headers.get('content-type'), 'application/json');
    assert.equal(again.headers.get('set-cookie'), null, 'cookies are not kept');
    assert.equal(again.headers.get('x-upstream-internal'), null, 'only the selected headers are kept');
    assert.notEqual(again.headers.get('x-request-id'), first.headers.get('x-request-id'));
    assert.equal(orders.creates().length, 1, 'the upstream saw one create');
  });

  it('refuses the same key with a different payload or path: 422 idempotency.key_reused', async () => {
    assert.equal((await post(gw.url, '/orders/v1/orders', '{"sku":"B-1"}', { 'idempotency-key': 'order-0002' })).status, 201);
    // One key names one request of this consumer on this API version, whatever the operation.
    for (const [path, body] of [
      ['/orders/v1/orders', '{"sku":"B-2"}'],
      ['/orders/v1/notes', '{"sku":"B-1"}'],
    ] as const) {
      const reused = await post(gw.url, path, body, { 'idempotency-key': 'order-0002' });
      assert.equal(reused.status, 422, path);
      assert.equal(reused.headers.get('content-type'), 'application/problem+json');
      assert.equal(((await reused.json()) as { code: string }).code, 'idempotency.key_reused');
    }
    assert.equal(orders.creates().length, 1);
  });

  it('answers 409 idempotency.in_flight while the first request with the key is still running', async () => {
    const open = orders.hold();
    const first = post(gw.url, '/orders/v1/orders', '{"sku":"C-1"}', { 'idempotency-key': 'order-0003' });
    await until('the first create to reach the upstream', () => orders.creates().length === 1);
    const second = await post(gw.url, '/orders/v1/orders', '{"sku":"C-1"}', { 'idempotency-key': 'order-0003' });
    assert.equal(second.status, 409);
    assert.equal(second.headers.get('retry-after'), '1');
    assert.equal(((await second.json()) as { code: string }).code, 'idempotency.in_flight');
    open();
    assert.equal((await first).status, 201);
    const third = await post(gw.url, '/orders/v1/orders', '{"sku":"C-1"}', { 'idempotency-key': 'order-0003' });
    assert.equal(third.headers.get('idempotent-replayed'), 'true');
    assert.equal(orders.creates().length, 1);
  });

  it('requires the key where configured (400 idempotency.key_missing); other operations pass without one', async () => {
    const missing = await post(gw.url, '/orders/v1/orders', '{"sku":"D-1"}');
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { code: string }).code, 'idempotency.key_missing');
    assert.equal(orders.creates().length, 0);
    assert.equal((await post(gw.url, '/orders/v1/notes', '{"text":"hi"}')).status, 201);
    assert.equal((await post(gw.url, '/orders/v1/notes', '{"text":"hi"}')).status, 201);
    assert.equal(orders.creates().length, 2, 'without a key nothing is replayed');
  });

  it('refuses malformed keys (400 request.invalid_header) and accepts the draft\'s quoted form', async () => {
    for (const key of ['x'.repeat(256), 'two words', 'a, b', '"unterminated', '"bad \\q escape"', '""']) {
      const response = await post(gw.url, '/orders/v1/orders', '{"sku":"E-1"}', { 'idempotency-key': key });
      assert.equal(response.status, 400, key);
      assert.equal(((await response.json()) as { code: string }).code, 'request.invalid_header', key);
    }
    assert.equal(orders.creates().length, 0);
    const quoted = await post(gw.url, '/orders/v1/orders', '{"sku":"E-1"}', { 'idempotency-key': '"order 0005 \\"quoted\\""' });
    assert.equal(quoted.status, 201);
    const replay = await post(gw.url, '/orders/v1/orders', '{"sku":"E-1"}', { 'idempotency-key': '"order 0005 \\"quoted\\""' });
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal((await post(gw.url, '/orders/v1/orders', '{"sku":"E-1"}', { 'idempotency-key': 'x'.repeat(255) })).status, 201);
  });

  it('keeps records per consumer: another consumer with the same key and payload is a new request', async () => {
    const mine = await post(gw.url, '/orders/v1/orders', '{"sku":"F-1"}', { 'idempotency-key': 'shared-looking-key' });
    const theirs = await post(gw.url, '/orders/v1/orders', '{"sku":"F-1"}', { 'idempotency-key': 'shared-looking-key', 'x-api-key': CRM_KEY });
    assert.equal(mine.status, 201);
    assert.equal(theirs.status, 201);
    assert.equal(theirs.headers.get('idempotent-replayed'), null);
    assert.equal(((await theirs.json()) as { consumer: string }).consumer, 'crm-sync');
    assert.equal(orders.creates().length, 2);
  });

  it('forgets a key after the operation\'s TTL (stepped clock) and forwards again', async () => {
    assert.equal((await post(gw.url, '/orders/v1/orders', '{"sku":"G-1"}', { 'idempotency-key': 'order-0007' })).status, 201);
    clock.t += 59_000;
    assert.equal((await post(gw.url, '/orders/v1/orders', '{"sku":"G-1"}', { 'idempotency-key': 'order-0007' })).headers.get('idempotent-replayed'), 'true');
    clock.t += 2_000;
    const later = await post(gw.url, '/orders/v1/orders', '{"sku":"G-1"}', { 'idempotency-key': 'order-0007' });
    assert.equal(later.status, 201);
    assert.equal(later.headers.get('idempotent-replayed'), null);
    assert.equal(orders.creates().length, 2);
  });

  it('keeps PATCH answers by default (24 h) and leaves GET alone', async () => {
    assert.equal((await post(gw.url, '/orders/v1/orders/7', '{"qty":3}', { 'idempotency-key': 'patch-1' }, 'PATCH')).status, 200);
    clock.t += 23 * 3600 * 1000;
    const replay = await post(gw.url, '/orders/v1/orders/7', '{"qty":3}', { 'idempotency-key': 'patch-1' }, 'PATCH');
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    const list = await fetch(`${gw.url}/orders/v1/orders`, { headers: { 'x-api-key': STOREFRONT_KEY, 'idempotency-key': 'patch-1' } });
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('idempotent-replayed'), null);
  });

  it('releases the key when the upstream answers 5xx, so the retry is forwarded', async () => {
    orders.failing = true;
    assert.equal((await post(gw.url, '/orders/v1/orders', '{"sku":"H-1"}', { 'idempotency-key': 'order-0008' })).status, 502);
    orders.failing = false;
    const retry = await post(gw.url, '/orders/v1/orders', '{"sku":"H-1"}', { 'idempotency-key': 'order-0008' });
    assert.equal(retry.status, 201);
    assert.equal(retry.headers.get('idempotent-replayed'), null);
    // The gateway itself tried the keyed POST twice (the route's default retry), within one claim.
    assert.equal(orders.creates().length, 3);
  });

  it('releases the key when the upstream cannot be reached (502 upstream.unavailable), not 409 on the retry', async () => {
    for (let i = 0; i < 2; i++) {
      const response = await post(gw.url, '/down/v1/orders', '{"sku":"I-1"}', { 'idempotency-key': 'order-0009' });
      assert.equal(response.status, 502);
      assert.equal(((await response.json()) as { code: string }).code, 'upstream.unavailable');
    }
  });

  it('releases the key of a client that left before the answer', async () => {
    const open = orders.hold();
    const abort = new AbortController();
    const left = post(gw.url, '/orders/v1/orders', '{"sku":"J-1"}', { 'idempotency-key': 'order-0010' }, 'POST', abort.signal).catch(() => undefined);
    await until('the create to reach the upstream', () => orders.creates().length === 1);
    abort.abort();
    await left;
    await gw.waitForRecord((r) => r.aborted && r.path === '/orders/v1/orders');
    open();
    const retry = await post(gw.url, '/orders/v1/orders', '{"sku":"J-1"}', { 'idempotency-key': 'order-0010' });
    assert.equal(retry.status, 201);
    assert.equal(retry.headers.get('idempotent-replayed'), null);
  });

  it('rejects a snapshot whose idempotency config names an unknown operation or a GET', async () => {
    const hash = gw.gateway.currentHash();
    for (const operations of [{ nope: { required: true } }, { listOrders: { required: true } }]) {
      const bad = buildSnapshot({
        apis: [ordersApi('orders', upstream.url, { operations })],
        plans: [{ id: 'standard', name: 'Standard', scopes: [] }],
        consumers: consumers(['orders']),
      });
      const result = await gw.gateway.apply(JSON.stringify(bad), 'test');
      assert.equal(result.applied, false);
      assert.match(result.error ?? '', /policy "idempotency" failed to build: .*(nope|listOrders)/);
    }
    assert.equal(gw.gateway.currentHash(), hash);
  });
});

describe('idempotency across two gateway nodes sharing Redis', () => {
  it('lets exactly one of ten concurrent duplicates reach the upstream; the rest get 409 or the replay', async (t) => {
    const redis = await requireRedis(t);
    if (redis === undefined) return;
    t.after(() => redis.close());
    const upstream = await startRecordingUpstream();
    t.after(() => upstream.close());
    const orders = orderUpstream(upstream);
    const nodes = await twoNodes(redis.client, await redis.connect(), upstream.url, redis.prefix);
    t.after(() => Promise.all(nodes.map((n) => n.close())));

    // Held until all ten are in, so they truly overlap.
    const open = orders.hold();
    const responses = Array.from({ length: 10 }, (_, i) => post(nodes[i % 2]!.url, '/orders/v1/orders', '{"sku":"R-1"}', { 'idempotency-key': 'race-0001' }));
    await until('the winner to reach the upstream', () => orders.creates().length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    open();
    const settled = await Promise.all(responses);
    assert.equal(orders.creates().length, 1, 'the upstream saw exactly one create');
    const originals = settled.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
    const others = settled.filter((r) => !originals.includes(r));
    assert.equal(originals.length, 1);
    for (const r of others) assert.ok(r.status === 409 || r.headers.get('idempotent-replayed') === 'true', `got ${r.status}`);
    assert.ok(others.some((r) => r.status === 409), 'the overlapping duplicates were told the key is in flight');

    // Afterwards either node replays it.
    for (const node of nodes) {
      const replay = await post(node.url, '/orders/v1/orders', '{"sku":"R-1"}', { 'idempotency-key': 'race-0001' });
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(replay.status, 201);
    }
    const reused = await post(nodes[1]!.url, '/orders/v1/orders', '{"sku":"R-2"}', { 'idempotency-key': 'race-0001' });
    assert.equal(reused.status, 422);
    assert.equal(orders.creates().length, 1);
  });

  it('releases a key on one node when the upstream fails, so the other node forwards the retry; TTL lapses in Redis', async (t) => {
    const redis = await requireRedis(t);
    if (redis === undefined) return;
    t.after(() => redis.close());
    const upstream = await startRecordingUpstream();
    t.after(() => upstream.close());
    const orders = orderUpstream(upstream);
    const nodes = await twoNodes(redis.client, await redis.connect(), upstream.url, redis.prefix);
    t.after(() => Promise.all(nodes.map((n) => n.close())));

    orders.failing = true;
    assert.equal((await post(nodes[0]!.url, '/orders/v1/orders', '{"sku":"S-1"}', { 'idempotency-key': 'fail-0001' })).status, 502);
    orders.failing = false;
    await new Promise((r) => setTimeout(r, 50)); // the release is sent as the exchange closes
    const retry = await post(nodes[1]!.url, '/orders/v1/orders', '{"sku":"S-1"}', { 'idempotency-key': 'fail-0001' });
    assert.equal(retry.status, 201);
    assert.equal(retry.headers.get('idempotent-replayed'), null);

    // quickOrder keeps answers one second.
    assert.equal((await post(nodes[0]!.url, '/orders/v1/quick-orders', '{"sku":"T-1"}', { 'idempotency-key': 'quick-1' })).status, 201);
    assert.equal((await post(nodes[1]!.url, '/orders/v1/quick-orders', '{"sku":"T-1"}', { 'idempotency-key': 'quick-1' })).headers.get('idempotent-replayed'), 'true');
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await post(nodes[1]!.url, '/orders/v1/quick-orders', '{"sku":"T-1"}', { 'idempotency-key': 'quick-1' });
    assert.equal(expired.headers.get('idempotent-replayed'), null);
    // 2 for the failed create (the gateway's own retry), 1 for the client's retry, 2 quick orders.
    assert.equal(orders.creates().length, 5);
    const keys = await redis.client.keys(`${redis.prefix}*`);
    assert.ok(keys.every((k) => k.startsWith(`${redis.prefix}idem:orders/v1/c:storefront/`)), keys.join(', '));
  });
});

async function twoNodes(a: RedisClient, b: RedisClient, upstreamUrl: string, prefix: string): Promise<TestGateway[]> {
  const snapshot = buildSnapshot({
    apis: [ordersApi('orders', upstreamUrl, { redisKeyPrefix: `${prefix}idem:`, operations: { quickOrder: { ttlSeconds: 1 } } })],
    plans: [{ id: 'standard', name: 'Standard', scopes: [] }],
    consumers: consumers(['orders']),
  });
  return Promise.all([startTestGateway({ snapshot, redis: a }), startTestGateway({ snapshot, redis: b })]);
}

describe('idempotency when the Redis store is unreachable', () => {
  it('fails closed by default (503 idempotency.store_unavailable, nothing forwarded) and forwards unprotected under failOpen', async (t) => {
    const upstream = await startRecordingUpstream();
    t.after(() => upstream.close());
    orderUpstream(upstream);
    // Never connected, no offline queue: every command fails at once, as during an outage.
    const dead: RedisClient = createClient({ url: 'redis://127.0.0.1:1', disableOfflineQueue: true });
    const gw = await startTestGateway({
      redis: dead,
      snapshot: buildSnapshot({
        apis: [ordersApi('orders', upstream.url, {}), ordersApi('open', upstream.url, { onStoreFailure: 'failOpen' })],
        plans: [{ id: 'standard', name: 'Standard', scopes: [] }],
        consumers: consumers(['orders', 'open']),
      }),
    });
    t.after(() => gw.close());

    const closed = await post(gw.url, '/orders/v1/orders', '{"sku":"U-1"}', { 'idempotency-key': 'outage-1' });
    assert.equal(closed.status, 503);
    assert.equal(closed.headers.get('retry-after'), '1');
    assert.equal(((await closed.json()) as { code: string }).code, 'idempotency.store_unavailable');
    assert.equal(upstream.seen.length, 0);
    assert.equal((await post(gw.url, '/orders/v1/orders', '{"sku":"U-1"}')).status, 201, 'requests without a key do not need the store');

    assert.equal((await post(gw.url, '/open/v1/orders', '{"sku":"U-2"}', { 'idempotency-key': 'outage-2' })).status, 201);
    assert.equal(upstream.seen.length, 2);
    assert.ok(gw.logLines().some((line) => line.includes('idempotency store failed')));
  });
});
