/**
 * @module `request-limits` through a real gateway: body size per operation refused from the
 * declared length before reading and while reading chunked bodies, JSON depth and element
 * counts, media types, URL length and header limits — each refusal asserting the upstream was
 * never called — and the byte scanner's edge cases.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { jsonComplexity } from '../../policies/index.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { rawRequest } from '../support/raw-http.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const OPERATIONS = [
  { id: 'createOrder', method: 'POST', path: '/orders' },
  { id: 'uploadNote', method: 'POST', path: '/notes' },
  { id: 'listOrders', method: 'GET', path: '/orders' },
] as const;

describe('request-limits', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startTestGateway({
      snapshot: buildSnapshot({
        apis: [
          httpApi('shop', upstream.url, [...OPERATIONS], {
            policies: [
              {
                policy: 'request-limits',
                config: {
                  maxBodyBytes: 2048,
                  operations: { uploadNote: { maxBodyBytes: 64, contentTypes: ['text/plain'] } },
                  contentTypes: ['application/json'],
                  json: { maxDepth: 4, maxElements: 20 },
                  maxUrlLength: 100,
                  maxHeaderCount: 20,
                },
              },
            ],
          }),
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

  const post = (path: string, body: string, contentType = 'application/json') =>
    fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

  async function problem(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
    assert.equal(res.status, status, await res.clone().text());
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.code, code);
    return body;
  }

  it('passes a request within every limit, body intact', async () => {
    const order = JSON.stringify({ lines: [{ sku: 'OAK-CHAIR', quantity: 4 }], note: 'brackets in strings do not count: [[[[{{{{' });
    const res = await post('/shop/v1/orders', order);
    assert.equal(res.status, 200);
    assert.equal(upstream.seen.length, 1);
    assert.equal(upstream.seen[0]!.body, order);
  });

  it('refuses a declared Content-Length above the operation limit before reading the body (413, connection closed)', async () => {
    // Only the head is sent: an answer proves nothing waited for the 10 MB.
    const answer = await rawRequest(gw.url, 'POST /shop/v1/orders HTTP/1.1', ['Content-Type: application/json', 'Content-Length: 10000000']);
    assert.equal(answer.status, 413);
    assert.equal(JSON.parse(answer.body).code, 'request.too_large');
    assert.match(JSON.parse(answer.body).detail, /2048 bytes/);
    assert.equal(answer.headers.connection, 'close');
    assert.equal(upstream.seen.length, 0);
  });

  it('stops reading a chunked body at the limit (413), nothing forwarded', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${gw.url}/shop/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
      // 8 chunks of 512 bytes: past 2048 the gateway answers without waiting for the end.
      let sent = 0;
      const tick = setInterval(() => {
        if (req.destroyed || sent >= 8) {
          clearInterval(tick);
          if (!req.destroyed) req.end();
          return;
        }
        req.write('x'.repeat(512));
        sent++;
      }, 5);
    });
    assert.equal(status, 413);
    assert.equal(upstream.seen.length, 0);
  });

  it('applies an operation\'s own limit and media types', async () => {
    await problem(await post('/shop/v1/notes', 'n'.repeat(65), 'text/plain'), 413, 'request.too_large');
    const json = await problem(await post('/shop/v1/notes', '"hi"'), 415, 'request.unsupported_media_type');
    assert.match(String(json.detail), /text\/plain/);
    const ok = await post('/shop/v1/notes', 'n'.repeat(64), 'text/plain; charset=utf-8');
    assert.equal(ok.status, 200);
    assert.equal(upstream.seen.length, 1);
  });

  it('refuses a body of another media type than the version allows (415 with Accept)', async () => {
    const res = await post('/shop/v1/orders', '<order/>', 'application/xml');
    await problem(res, 415, 'request.unsupported_media_type');
    assert.equal(res.headers.get('accept'), 'application/json');
    assert.equal(upstream.seen.length, 0);
  });

  it('refuses JSON nested too deep (400 request.json_too_complex)', async () => {
    const body = await problem(await post('/shop/v1/orders', '{"a":{"b":{"c":{"d":{"e":1}}}}}'), 400, 'request.json_too_complex');
    assert.match(String(body.detail), /deeper than 4/);
    // Deep enough to hurt a recursive walker: refused just the same, gateway alive.
    await problem(await post('/shop/v1/orders', '['.repeat(1000) + ']'.repeat(1000)), 400, 'request.json_too_complex');
    assert.equal(upstream.seen.length, 0);
  });

  it('refuses JSON with too many elements', async () => {
    const body = await problem(await post('/shop/v1/orders', JSON.stringify({ lines: Array.from({ length: 25 }, (_, i) => i) })), 400, 'request.json_too_complex');
    assert.match(String(body.detail), /more than 20 elements/);
    assert.equal(upstream.seen.length, 0);
  });

  it('refuses an over-long URL for this version (414) and too many headers (431)', async () => {
    await problem(await fetch(`${gw.url}/shop/v1/orders?q=${'x'.repeat(120)}`), 414, 'request.url_too_long');
    const headers = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`x-extra-${i}`, 'v']));
    await problem(await fetch(`${gw.url}/shop/v1/orders`, { headers }), 431, 'request.headers_too_large');
    assert.equal(upstream.seen.length, 0);
  });

  it('a malformed JSON body is still 400 request.malformed_body', async () => {
    await problem(await post('/shop/v1/orders', '{"lines": ['), 400, 'request.malformed_body');
    assert.equal(upstream.seen.length, 0);
  });
});

describe('jsonComplexity', () => {
  const check = (text: string, depth = 3, elements = 5): string | undefined => jsonComplexity(Buffer.from(text), depth, elements);

  it('counts array items and object members, not brackets or commas inside strings', () => {
    assert.equal(check('{"a":1,"b":2,"c":3,"d":4,"e":5}'), undefined);
    assert.match(check('{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}') ?? '', /more than 5 elements/);
    assert.equal(check('["a,b,c,d,e,f,g", "[[[[", "\\"]]]]{{"]'), undefined);
    assert.equal(check('[]'), undefined);
    assert.equal(check('[[],[],{}]', 3, 3), undefined);
  });

  it('measures depth across objects and arrays; escaped quotes do not end strings', () => {
    assert.equal(check('[[["x"]]]'), undefined);
    assert.match(check('[[[["x"]]]]') ?? '', /deeper than 3/);
    assert.equal(check('["\\\\", "\\"[[[[["]'), undefined);
  });
});
