/**
 * Path and header hygiene through a real gateway: every refused request is a problem document
 * and reaches the upstream zero times; what is forwarded is cleaned.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { rawRequest, type RawResponse } from '../support/raw-http.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const OPERATIONS = [
  { id: 'listItems', method: 'GET' as const, path: '/items' },
  { id: 'getItem', method: 'GET' as const, path: '/items/{id}' },
  { id: 'createItem', method: 'POST' as const, path: '/items' },
  { id: 'anyAdmin', method: 'GET' as const, path: '/admin' },
];

function assertProblem(response: RawResponse, status: number, code: string): void {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.body}`);
  assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
  const problem = JSON.parse(response.body) as Record<string, unknown>;
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  for (const member of ['type', 'title', 'detail', 'traceId']) assert.ok(member in problem, `problem lacks ${member}`);
  assert.ok(!response.body.includes('    at '), 'no stack trace');
  assert.equal(response.headers['x-powered-by'], undefined);
}

describe('request hygiene', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startTestGateway({ snapshot: buildSnapshot({ apis: [httpApi('shop', upstream.url, OPERATIONS)] }) });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.seen.length = 0;
  });

  const refusedPaths: Array<[string, string]> = [
    ['dot-dot segment', '/shop/v1/items/../admin'],
    ['dot segment', '/shop/v1/./admin'],
    ['trailing dot-dot', '/shop/v1/items/..'],
    ['encoded dot-dot, lower case', '/shop/v1/items/%2e%2e/admin'],
    ['encoded dot-dot, upper case', '/shop/v1/items/%2E%2E/admin'],
    ['encoded dot-dot, mixed case', '/shop/v1/items/%2e%2E/admin'],
    ['half-encoded dot-dot', '/shop/v1/items/.%2e/admin'],
    ['encoded slash', '/shop/v1/items%2f..%2fadmin'],
    ['encoded slash, upper case', '/shop/v1/items%2Fadmin'],
    ['encoded backslash', '/shop/v1/items%5cadmin'],
    ['raw backslash', '/shop/v1/items\\admin'],
    ['encoded NUL', '/shop/v1/items%00'],
    ['encoded control character', '/shop/v1/items%0d%0aX-Injected:%201'],
    ['double encoding', '/shop/v1/items/%252e%252e/admin'],
    ['malformed escape', '/shop/v1/items/%zz'],
    ['empty segment', '/shop/v1//admin'],
    ['path parameter dot-dot', '/shop/v1/items/..;/admin'],
    ['encoded NUL in the query', '/shop/v1/items?q=a%00b'],
    ['absolute form', 'http://evil.example/shop/v1/items'],
  ];

  for (const [name, path] of refusedPaths) {
    it(`refuses ${name} with 400 and never calls the upstream`, async () => {
      const response = await rawRequest(gw.url, `GET ${path} HTTP/1.1`);
      assertProblem(response, 400, 'request.invalid_path');
      assert.equal(upstream.seen.length, 0);
    });
  }

  it('refuses raw control characters and NUL in the request line (Node parser) as a problem', async () => {
    for (const path of ['/shop/v1/items\x01', '/shop/v1/it\x00ems']) {
      const response = await rawRequest(gw.url, `GET ${path} HTTP/1.1`);
      assert.equal(response.status, 400);
      assert.match(response.headers['content-type'] ?? '', /problem\+json/);
      assert.match(response.headers['x-request-id'] ?? '', /^[0-9a-f]{16}$/);
      assert.match((JSON.parse(response.body) as { traceId: string }).traceId, /^[0-9a-f]{32}$/);
    }
    assert.equal(upstream.seen.length, 0);
  });

  it('refuses a control character in a header value as a problem', async () => {
    const response = await rawRequest(gw.url, 'GET /shop/v1/items HTTP/1.1', ['X-Note: a\x01b']);
    assert.equal(response.status, 400);
    assert.match(response.headers['content-type'] ?? '', /problem\+json/);
    assert.equal(upstream.seen.length, 0);
  });

  it('refuses an over-long URL with 414', async () => {
    const response = await rawRequest(gw.url, `GET /shop/v1/items?q=${'a'.repeat(9000)} HTTP/1.1`);
    assertProblem(response, 414, 'request.url_too_long');
    assert.equal(upstream.seen.length, 0);
  });

  it('refuses more header fields than allowed with 431', async () => {
    const headers = Array.from({ length: 120 }, (_, i) => `X-Filler-${i}: ${i}`);
    const response = await rawRequest(gw.url, 'GET /shop/v1/items HTTP/1.1', headers);
    assertProblem(response, 431, 'request.headers_too_large');
    assert.equal(upstream.seen.length, 0);
  });

  for (const path of ['/shop/v1x/items', '/shop/v01/items', '/shopx/v1/items', '/shop/v/items', '/shop/v1items', '/shop', '/']) {
    it(`keeps prefix boundaries: ${path} is not routed`, async () => {
      const response = await rawRequest(gw.url, `GET ${path} HTTP/1.1`);
      assertProblem(response, 404, 'route.not_found');
      assert.equal(upstream.seen.length, 0);
    });
  }

  it('answers an undeclared path with 404 and an undeclared method with 405 and Allow', async () => {
    assertProblem(await rawRequest(gw.url, 'GET /shop/v1/orders HTTP/1.1'), 404, 'route.not_found');
    const wrongMethod = await rawRequest(gw.url, 'DELETE /shop/v1/items HTTP/1.1');
    assertProblem(wrongMethod, 405, 'route.method_not_allowed');
    assert.equal(wrongMethod.headers.allow, 'GET, HEAD, POST');
    assert.equal(upstream.seen.length, 0);
  });

  it('forwards a clean request, query string untouched', async () => {
    const response = await rawRequest(gw.url, 'GET /shop/v1/items/42?fields=name,price&q=a%20b HTTP/1.1');
    assert.equal(response.status, 200);
    assert.equal(upstream.seen.length, 1);
    assert.equal(upstream.seen[0]!.url, '/items/42?fields=name,price&q=a%20b');
  });

  it('does not forward hop-by-hop headers, nor headers named in Connection', async () => {
    const response = await rawRequest(gw.url, 'GET /shop/v1/items HTTP/1.1', [
      'Keep-Alive: timeout=5',
      'TE: trailers',
      'Trailer: X-Checksum',
      'Proxy-Authorization: Basic cHJveHk6cHJveHk=',
      'Proxy-Connection: keep-alive',
      'X-Hop-Secret: hop',
      'Connection: close, X-Hop-Secret',
      'X-Kept: kept',
    ]);
    assert.equal(response.status, 200);
    const seen = upstream.seen[0]!.headers;
    for (const name of ['keep-alive', 'te', 'trailer', 'proxy-authorization', 'proxy-connection', 'x-hop-secret']) {
      assert.equal(seen[name], undefined, `${name} was forwarded`);
    }
    assert.equal(seen['x-kept'], 'kept');
  });

  it('does not believe forwarding or identity headers from an untrusted peer', async () => {
    const response = await rawRequest(gw.url, 'GET /shop/v1/items HTTP/1.1', [
      'X-Forwarded-For: 203.0.113.9',
      'X-Forwarded-Host: evil.example',
      'X-Forwarded-Proto: https',
      'Forwarded: for=203.0.113.9;proto=https',
      'X-Real-IP: 203.0.113.9',
      'X-Consumer-Id: finance-jobs',
      'X-Authenticated-User: admin',
      'X-User-Id: 1',
      'X-Userinfo: e30=',
    ]);
    assert.equal(response.status, 200);
    const seen = upstream.seen[0]!.headers;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.notEqual(seen['x-forwarded-host'], 'evil.example');
    for (const name of ['forwarded', 'x-real-ip', 'x-consumer-id', 'x-authenticated-user', 'x-user-id', 'x-userinfo']) {
      assert.equal(seen[name], undefined, `${name} was forwarded`);
    }
    const record = (await gw.waitForRecords(1)).at(-1)!;
    assert.equal(record.clientAddress, '127.0.0.1');
  });
});

describe('request hygiene behind a trusted proxy', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startTestGateway({
      snapshot: buildSnapshot({
        apis: [httpApi('shop', upstream.url, OPERATIONS)],
        gatewayPolicies: [{ policy: 'request-hygiene', config: { trustedProxies: ['127.0.0.0/8'] } }],
      }),
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('keeps the proxy chain, appends the peer and records the real client', async () => {
    const response = await rawRequest(gw.url, 'GET /shop/v1/items HTTP/1.1', [
      'X-Forwarded-For: 198.51.100.7, 127.0.0.2',
      'X-Forwarded-Proto: https',
      'X-Consumer-Id: storefront',
    ]);
    assert.equal(response.status, 200);
    const seen = upstream.seen[0]!.headers;
    assert.equal(seen['x-forwarded-for'], '198.51.100.7, 127.0.0.2, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-consumer-id'], 'storefront');
    const record = (await gw.waitForRecords(1)).at(-1)!;
    assert.equal(record.clientAddress, '198.51.100.7');
  });
});
