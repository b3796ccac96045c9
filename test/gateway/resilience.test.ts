/**
 * @module Retries and the circuit breaker through a real gateway in front of a recording
 * upstream: idempotent requests are sent again after 502/503/504 or a refused connection,
 * non-idempotent ones never (unless they carry an Idempotency-Key), the body sent again is the
 * same bytes; the breaker opens after consecutive failures, answers 503 upstream.circuit_open
 * with Retry-After without calling the upstream, half-opens for one trial, closes on success,
 * and survives a snapshot swap.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApiSpec, CircuitBreakerSpec, RetrySpec } from '../../contracts/index.js';
import { buildSnapshot, singleVersionApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { echo, startRecordingUpstream, type RecordingUpstream, type UpstreamBehaviour } from '../support/upstream.js';

const OPERATIONS = [
  { id: 'list', method: 'GET', path: '/items' },
  { id: 'create', method: 'POST', path: '/items' },
  { id: 'replace', method: 'PUT', path: '/items/{id}' },
  { id: 'remove', method: 'DELETE', path: '/items/{id}' },
] as const;

function api(slug: string, baseUrl: string, retry: RetrySpec, circuitBreaker: CircuitBreakerSpec, buffered = false): ApiSpec {
  return singleVersionApi(slug, { kind: 'http', baseUrl, connectTimeoutMs: 500, responseTimeoutMs: 1000, settings: {}, retry, circuitBreaker }, [...OPERATIONS], {
    // request-limits makes the route buffer bodies, so a PUT's body is at hand for a retry.
    policies: buffered ? [{ policy: 'request-limits', config: {} }] : [],
  });
}

/** Fails the first `n` requests with `status`, then answers normally. */
function failFirst(n: number, status: number): UpstreamBehaviour {
  let left = n;
  return (req, res) => {
    if (left-- > 0) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'busy' }));
      return;
    }
    echo(req, res);
  };
}

const alwaysFail = (status: number): UpstreamBehaviour => failFirst(Number.MAX_SAFE_INTEGER, status);

async function metric(gw: TestGateway, name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`${gw.statusUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('retries', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  const noBreaker: CircuitBreakerSpec = { enabled: false, consecutiveFailures: 5, halfOpenAfterMs: 1000 };

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startTestGateway({
      snapshot: buildSnapshot({
        apis: [
          api('shop', upstream.url, { attempts: 2, baseDelayMs: 10, maxDelayMs: 50, statuses: [502, 503, 504] }, noBreaker, true),
          api('streamed', upstream.url, { attempts: 2, baseDelayMs: 10, maxDelayMs: 50, statuses: [502, 503, 504] }, noBreaker),
          api('never', upstream.url, { attempts: 0, baseDelayMs: 10, maxDelayMs: 50, statuses: [503] }, noBreaker),
          api('down', 'http://127.0.0.1:9', { attempts: 2, baseDelayMs: 10, maxDelayMs: 50, statuses: [503] }, noBreaker),
        ],
      }),
    });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  beforeEach(() => {
    upstream.seen.length = 0;
  });

  it('sends a GET again after 503 and answers with the success', async () => {
    upstream.behave(failFirst(2, 503));
    const res = await fetch(`${gw.url}/shop/v1/items`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(upstream.seen.length, 3);
    assert.equal(await metric(gw, 'gatehouse_upstream_retries_total', 'api="shop"'), 2);
  });

  it('gives up after the configured attempts and relays the last answer', async () => {
    upstream.behave(alwaysFail(502));
    const res = await fetch(`${gw.url}/shop/v1/items`);
    assert.equal(res.status, 502);
    assert.equal(upstream.seen.length, 3);
  });

  it('never sends a POST without an Idempotency-Key twice', async () => {
    upstream.behave(alwaysFail(503));
    const res = await fetch(`${gw.url}/shop/v1/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku":"A"}' });
    assert.equal(res.status, 503);
    assert.equal(upstream.seen.length, 1);
  });

  it('sends a POST carrying an Idempotency-Key again, with the same body and key', async () => {
    upstream.behave(failFirst(1, 503));
    const body = '{"sku":"OAK-CHAIR","quantity":4}';
    const res = await fetch(`${gw.url}/shop/v1/items`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' }, body });
    assert.equal(res.status, 200);
    assert.equal(upstream.seen.length, 2);
    assert.deepEqual(upstream.seen.map((r) => [r.body, r.headers['idempotency-key']]), [[body, 'k-1'], [body, 'k-1']]);
  });

  it('sends a PUT again with the same bytes when the body is buffered', async () => {
    upstream.behave(failFirst(1, 504));
    const body = '{"name":"Oak chair","price":129.5}';
    const res = await fetch(`${gw.url}/shop/v1/items/7`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200);
    assert.deepEqual(upstream.seen.map((r) => r.body), [body, body]);
  });

  it('does not send again a PUT whose body was streamed away', async () => {
    upstream.behave(alwaysFail(503));
    const res = await fetch(`${gw.url}/streamed/v1/items/7`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.equal(res.status, 503);
    assert.equal(upstream.seen.length, 1);
  });

  it('sends a DELETE again', async () => {
    upstream.behave(failFirst(1, 503));
    const res = await fetch(`${gw.url}/streamed/v1/items/7`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    assert.equal(upstream.seen.length, 2);
  });

  it('attempts 0: never retries', async () => {
    upstream.behave(alwaysFail(503));
    const res = await fetch(`${gw.url}/never/v1/items`);
    assert.equal(res.status, 503);
    assert.equal(upstream.seen.length, 1);
  });

  it('a refused connection is retried, then 502 upstream.unavailable', async () => {
    const res = await fetch(`${gw.url}/down/v1/items`);
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { code: string }).code, 'upstream.unavailable');
    assert.equal(await metric(gw, 'gatehouse_upstream_retries_total', 'api="down",version="1.0.0",reason="ECONNREFUSED"'), 2);
  });
});

describe('circuit breaker', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  const noRetry: RetrySpec = { attempts: 0, baseDelayMs: 10, maxDelayMs: 10, statuses: [] };
  // Long enough that a snapshot swap (compiled in up to ~1 s on a slow VM) falls inside the open wait.
  const breaker: CircuitBreakerSpec = { enabled: true, consecutiveFailures: 3, halfOpenAfterMs: 3000 };
  const openWait = () => new Promise((r) => setTimeout(r, breaker.halfOpenAfterMs + 50));
  let apis: ApiSpec[];

  before(async () => {
    upstream = await startRecordingUpstream();
    apis = [api('shop', upstream.url, noRetry, breaker)];
    gw = await startTestGateway({ snapshot: buildSnapshot({ apis }) });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const get = () => fetch(`${gw.url}/shop/v1/items`);
  const state = () => metric(gw, 'gatehouse_circuit_state', `upstream="${upstream.url}"`);

  it('opens after consecutive failures and answers 503 upstream.circuit_open with Retry-After, without calling the upstream', async () => {
    upstream.behave(alwaysFail(503));
    for (let i = 0; i < 3; i++) assert.equal((await get()).status, 503);
    assert.equal(upstream.seen.length, 3);
    const refused = await get();
    assert.equal(refused.status, 503);
    const problem = (await refused.json()) as { code: string };
    assert.equal(problem.code, 'upstream.circuit_open');
    // Seconds until the trial, rounded up: 3 right after opening, less on a slow machine.
    assert.match(refused.headers.get('retry-after') ?? '', /^[1-3]$/);
    assert.equal(upstream.seen.length, 3, 'the open circuit kept the request away from the upstream');
    assert.equal(await state(), 1);
  });

  it('keeps its state across a snapshot swap', async () => {
    await gw.source.push(JSON.stringify(buildSnapshot({ apis, generatedAt: '2026-11-27T01:00:00.000Z' })));
    // A breaker made anew by the swap would read closed (0).
    assert.equal(await state(), 1);
    const refused = await get();
    assert.equal(((await refused.json()) as { code: string }).code, 'upstream.circuit_open');
    assert.equal(upstream.seen.length, 3);
  });

  it('half-opens after the wait: a failed trial opens it again', async () => {
    await openWait();
    assert.equal((await get()).status, 503);
    assert.equal(upstream.seen.length, 4, 'one trial went through');
    const refused = await get();
    assert.equal(((await refused.json()) as { code: string }).code, 'upstream.circuit_open');
    assert.equal(upstream.seen.length, 4);
  });

  it('a successful trial closes it', async () => {
    upstream.behave(echo);
    await openWait();
    assert.equal((await get()).status, 200);
    assert.equal((await get()).status, 200);
    assert.equal(upstream.seen.length, 6);
    assert.equal(await state(), 0);
    const text = await (await fetch(`${gw.statusUrl}/metrics`)).text();
    for (const transition of ['open', 'half-open', 'closed']) {
      assert.match(text, new RegExp(`gatehouse_circuit_transitions_total\\{upstream="${upstream.url.replaceAll('.', '\\.')}",state="${transition}"\\} [1-9]`));
    }
  });

  it('an upstream error that is not a failure (404, 422) keeps it closed', async () => {
    upstream.behave((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{}');
    });
    for (let i = 0; i < 5; i++) assert.equal((await get()).status, 404);
    assert.equal(await state(), 0);
  });

  it('counts consecutive failures only: a success in between starts the count again', async () => {
    const before = upstream.seen.length;
    upstream.behave(alwaysFail(503));
    for (let i = 0; i < 2; i++) assert.equal((await get()).status, 503);
    upstream.behave(echo);
    assert.equal((await get()).status, 200);
    upstream.behave(alwaysFail(503));
    for (let i = 0; i < 2; i++) assert.equal((await get()).status, 503);
    assert.equal(upstream.seen.length, before + 5, 'every request reached the upstream');
    assert.equal(await state(), 0, 'two failures since the success: still closed');
    assert.equal((await get()).status, 503);
    const refused = await get();
    assert.equal(((await refused.json()) as { code: string }).code, 'upstream.circuit_open');
    assert.equal(upstream.seen.length, before + 6, 'the third consecutive failure opened it');
  });
});
