/**
 * `rate-limit` and `quota` with Redis stopped mid-test (a private redis-server, killed and
 * started again; the shared test Redis is never touched): `failOpen` plans keep being served,
 * counted per node; `failClosed` plans are refused with 503 `limit.store_unavailable`; the
 * outage is logged once per policy, not per request, and counted in
 * `gatehouse_limit_store_failures_total`; once Redis is back, counting returns there.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createRedisConnection } from '../../gateway/redis.js';
import type { Logger } from '../../policies/index.js';
import { buildSnapshot, startTestGateway } from '../support/gateway-harness.js';
import { keyedConsumer, limitedApi, limitedPlan, limitsOf, steppedClock } from '../support/limits.js';
import { startPrivateRedis } from '../support/redis-server.js';
import { startRecordingUpstream } from '../support/upstream.js';
import { until } from '../support/until.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

it("Redis stopped mid-test: failOpen plans count per node, failClosed plans answer 503, and both recover", async (t) => {
  const server = await startPrivateRedis(t);
  if (server === undefined) return;
  t.after(() => server.close());
  const connection = createRedisConnection({ url: server.url, logger: quiet, connectTimeoutMs: 500 });
  t.after(() => connection.close());
  await connection.ready;
  assert.ok(connection.client.isReady);

  const upstream = await startRecordingUpstream();
  t.after(() => upstream.close());
  const limits = { rates: [{ requests: 3, windowSeconds: 60 }], quotas: [{ requests: 3, period: 'day' as const }] };
  const open = keyedConsumer('storefront', 'open', ['rated', 'metered']);
  const closed = keyedConsumer('finance-jobs', 'closed', ['rated', 'metered']);
  const gw = await startTestGateway({
    clock: steppedClock('2026-11-06T10:00:00.000Z'),
    redis: connection.client,
    snapshot: buildSnapshot({
      apis: [
        limitedApi('rated', upstream.url, [{ policy: 'rate-limit', config: { keyPrefix: 'outage:' } }]),
        limitedApi('metered', upstream.url, [{ policy: 'quota', config: { keyPrefix: 'outage:' } }]),
      ],
      plans: [limitedPlan('open', { ...limits, onStoreFailure: 'failOpen' }), limitedPlan('closed', { ...limits, onStoreFailure: 'failClosed' })],
      consumers: [open.consumer, closed.consumer],
    }),
  });
  t.after(() => gw.close());
  const call = async (api: string, key: string): Promise<Response> => {
    const response = await fetch(`${gw.url}/${api}/v1/orders`, { headers: { 'x-api-key': key } });
    await response.arrayBuffer();
    return response;
  };
  const outageLines = (): string[] => gw.logLines().filter((line) => line.includes('shared limit store (Redis) is unreachable'));

  // Redis up: both plans counted there.
  for (const api of ['rated', 'metered']) {
    for (const consumer of [open, closed]) assert.equal((await call(api, consumer.key)).status, 200);
  }
  const redisKeys = await connection.client.keys('outage:*');
  assert.equal(redisKeys.length, 4, redisKeys.join(' '));

  await server.stop();
  await until('the client notices', () => !connection.client.isReady);

  // failOpen: served, counted in this node's memory (which starts from nothing: the count in
  // Redis is out of reach), so the plan's 3 per minute still hold per node.
  const rated = [];
  for (let i = 0; i < 4; i++) rated.push((await call('rated', open.key)).status);
  assert.deepEqual(rated, [200, 200, 200, 429]);
  const metered = await call('metered', open.key);
  assert.equal(metered.status, 200);
  assert.equal(limitsOf(metered)['open-day']?.r, 2);

  // failClosed: refused without reaching the upstream.
  const seen = upstream.seen.length;
  for (const api of ['rated', 'metered']) {
    const refused = await fetch(`${gw.url}/${api}/v1/orders`, { headers: { 'x-api-key': closed.key } });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { code: string }).code, 'limit.store_unavailable');
  }
  assert.equal(upstream.seen.length, seen);

  // One line per policy for the whole outage, however many requests.
  assert.equal(outageLines().length, 2, outageLines().join('\n'));
  const metrics = await (await fetch(`${gw.statusUrl}/metrics`)).text();
  assert.match(metrics, /gatehouse_limit_store_failures_total\{policy="rate-limit",mode="failOpen"\} 4\b/);
  assert.match(metrics, /gatehouse_limit_store_failures_total\{policy="rate-limit",mode="failClosed"\} 1\b/);
  assert.match(metrics, /gatehouse_limit_store_failures_total\{policy="quota",mode="failOpen"\} 1\b/);
  assert.match(metrics, /gatehouse_limit_store_failures_total\{policy="quota",mode="failClosed"\} 1\b/);
  assert.match(metrics, /gatehouse_policy_decisions_total\{code="limit.store_unavailable"\} 2\b/);

  // Back (empty: nothing was persisted): the client reconnects and counting returns to Redis.
  await server.start();
  await until('the client reconnects', () => connection.client.isReady);
  assert.equal((await call('rated', closed.key)).status, 200);
  assert.equal((await call('metered', closed.key)).status, 200);
  const back = await call('rated', open.key);
  assert.equal(back.status, 200, 'counted in Redis again, not in the node memory that is spent');
  assert.equal(limitsOf(back)['open-60s']?.r, 2);
  assert.equal((await connection.client.keys('outage:*')).length, 3);
  assert.equal(gw.logLines().filter((line) => line.includes('shared limit store (Redis) is reachable again')).length, 2);
  assert.equal(outageLines().length, 2);
});
