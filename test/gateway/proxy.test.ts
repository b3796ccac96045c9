/**
 * Forwarding through a real gateway: upstream refused → 502, hang → 504 within the configured
 * timeout, trace context, request ids, bodies byte-exact, clients that leave mid-request do not
 * wedge the upstream pool, and planted credentials appear in no log, record or response.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApiSpec } from '../../contracts/index.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { until } from '../support/until.js';
import { echo, startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Timed {
  status: number;
  code: string;
  detail: string;
  started: number;
  answered: number;
}

/** Calls `/{slug}/v1/items` and notes when it was sent and answered (`performance.now()`). */
async function timed(gatewayUrl: string, slug: string): Promise<Timed> {
  const started = performance.now();
  const response = await fetch(`${gatewayUrl}/${slug}/v1/items`, { signal: AbortSignal.timeout(30_000) });
  const { code, detail } = (await response.json()) as { code: string; detail: string };
  return { status: response.status, code, detail, started, answered: performance.now() };
}

/**
 * The route with the long timeout first, then, 200 ms later, the one with the short: one
 * timeout for both would answer the long route first.
 */
async function timeoutPair(gatewayUrl: string, shortSlug: string, longSlug: string): Promise<{ short: Timed; long: Timed }> {
  const long = timed(gatewayUrl, longSlug);
  await new Promise((r) => setTimeout(r, 200));
  const short = timed(gatewayUrl, shortSlug);
  return { short: await short, long: await long };
}

/**
 * Each call waited at least its route's timeout, and the two answered in the order of their
 * deadlines (sent + timeout), as they must even after a stall: the gateway's sweep ends calls
 * in deadline order. Deadlines closer than 500 ms (a stall of ~2.5 s between the two sends)
 * tell nothing about order, so only the lower bounds are checked then.
 */
function assertTimeoutOrder(answers: { short: Timed; long: Timed }, shortMs: number, longMs: number): void {
  const { short, long } = answers;
  assert.ok(short.answered - short.started >= shortMs - 10, `answered after ${Math.round(short.answered - short.started)} ms for a ${shortMs} ms timeout`);
  assert.ok(long.answered - long.started >= longMs - 10, `answered after ${Math.round(long.answered - long.started)} ms for a ${longMs} ms timeout`);
  const shortDeadline = short.started + shortMs;
  const longDeadline = long.started + longMs;
  if (Math.abs(longDeadline - shortDeadline) >= 500) {
    assert.equal(short.answered < long.answered, shortDeadline < longDeadline, `the ${shortMs} ms route answered out of deadline order`);
  }
}

describe('proxying', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  let deadPort: number;
  let apis: ApiSpec[];

  before(async () => {
    upstream = await startRecordingUpstream();
    deadPort = await closedPort();
    const ops = [
      { id: 'listItems', method: 'GET' as const, path: '/items' },
      { id: 'createItem', method: 'POST' as const, path: '/items' },
    ];
    const settings = { credentialHeader: 'Authorization', credentialPrefix: 'Bearer ', credential: { env: 'SHOP_TOKEN' } };
    const shopLike = (slug: string, connectTimeoutMs: number, responseTimeoutMs: number): ApiSpec =>
      httpApi(slug, upstream.url, ops, { upstream: { kind: 'http', baseUrl: `${upstream.url}/api`, connectTimeoutMs, responseTimeoutMs, settings } });
    gw = await startTestGateway({
      secrets: { SHOP_TOKEN: 'PLANTED-upstream-token-91c2' },
      snapshot: buildSnapshot({
        apis: (apis = [
          shopLike('shop', 500, 300),
          // The same upstream with a ten times longer response timeout: the timeout tests
          // compare the two, not either against a wall-clock bound a starved machine breaks.
          shopLike('patient', 500, 3000),
          // Timeouts no test here means to reach: bodies and held calls that take their time.
          shopLike('bulk', 60_000, 60_000),
          httpApi('gone', `http://127.0.0.1:${deadPort}`, ops),
        ]),
      }),
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.seen.length = 0;
    upstream.behave(echo);
  });

  it('answers 502 upstream.unavailable when the upstream refuses connections', async () => {
    const response = await fetch(`${gw.url}/gone/v1/items`);
    assert.equal(response.status, 502);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    const problem = (await response.json()) as Record<string, unknown>;
    assert.equal(problem.code, 'upstream.unavailable');
    assert.equal(typeof problem.traceId, 'string');
  });

  it('answers 504 upstream.timeout within the configured response timeout when the upstream hangs', async () => {
    upstream.behave(() => {
      /* never answers */
    });
    // Two routes to the hung upstream, 3 s and 300 ms: each waits at least its own timeout,
    // and they answer in the order of their deadlines. Order survives a starved machine; a
    // time bound does not.
    const answers = await timeoutPair(gw.url, 'shop', 'patient');
    for (const answer of Object.values(answers)) assert.deepEqual([answer.status, answer.code], [504, 'upstream.timeout']);
    assertTimeoutOrder(answers, 300, 3000);
    // The gateway keeps working afterwards.
    upstream.behave(echo);
    assert.equal((await fetch(`${gw.url}/shop/v1/items`)).status, 200);
  });

  it('answers 504 upstream.timeout when the upstream accepts no connection within the connect timeout', async () => {
    // A listener whose accept queue is full: the kernel drops further SYNs, so connect hangs.
    const { spawn } = await import('node:child_process');
    const python = spawn('python3', [
      '-c',
      'import socket,sys,time\ns=socket.socket();s.bind(("127.0.0.1",0));s.listen(0)\nprint(s.getsockname()[1],flush=True)\nfill=[]\nfor _ in range(4):\n  c=socket.socket();c.setblocking(False)\n  try: c.connect(("127.0.0.1",s.getsockname()[1]))\n  except BlockingIOError: pass\n  fill.append(c)\ntime.sleep(30)',
    ]);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        python.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        python.once('error', reject);
      });
      await new Promise((r) => setTimeout(r, 100));
      const stuckApi = (slug: string, connectTimeoutMs: number): ApiSpec =>
        httpApi(slug, `http://127.0.0.1:${port}`, [{ id: 'listItems', method: 'GET', path: '/items' }], {
          upstream: { kind: 'http', baseUrl: `http://127.0.0.1:${port}`, connectTimeoutMs, responseTimeoutMs: 30_000, settings: {} },
        });
      await gw.source.push(JSON.stringify(buildSnapshot({ apis: [...apis, stuckApi('stuck', 300), stuckApi('stuck-patient', 3000)], generatedAt: '2026-11-01T00:00:01.000Z' })));
      // As for the response timeout: each at least its own, in deadline order.
      const answers = await timeoutPair(gw.url, 'stuck', 'stuck-patient');
      for (const answer of Object.values(answers)) {
        assert.deepEqual([answer.status, answer.code], [504, 'upstream.timeout']);
        assert.match(answer.detail, /connection/);
      }
      assertTimeoutOrder(answers, 300, 3000);
    } finally {
      python.kill();
      await gw.source.push(JSON.stringify(buildSnapshot({ apis })));
    }
  });

  it('relays the upstream answer\'s headers without hop-by-hop ones, those named in Connection or X-Powered-By; repeated fields folded, Set-Cookie kept apart, Location mapped', async () => {
    upstream.behave((_req, res) => {
      // writeHead with raw pairs: repeated names and mixed case go out as written here.
      res.writeHead(201, [
        'Connection', 'keep-alive, X-Hop',
        'X-Hop', 'upstream-internal',
        'X-Powered-By', 'Express',
        'Proxy-Authenticate', 'Basic realm="upstream"',
        'Set-Cookie', 'a=1; Path=/',
        'Set-Cookie', 'b=2; Path=/',
        'X-Multi', 'one',
        'X-Multi', 'two',
        'Location', `${upstream.url}/api/items/7`,
        'X-Request-Id', 'upstream-chosen',
        'Content-Type', 'application/json',
        'Content-Length', '2',
      ]);
      res.end('{}');
    });
    const answer = await new Promise<{ status: number; raw: string[]; body: string }>((resolve, reject) => {
      const req = request(`${gw.url}/shop/v1/items`, { method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: res.rawHeaders, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 201);
    assert.equal(answer.body, '{}');
    const values = (name: string): string[] => answer.raw.filter((_, i) => i % 2 === 1 && answer.raw[i - 1]!.toLowerCase() === name);
    assert.deepEqual(values('x-hop'), [], 'named in Connection');
    assert.deepEqual(values('x-powered-by'), []);
    assert.deepEqual(values('proxy-authenticate'), []);
    assert.deepEqual(values('set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
    assert.deepEqual(values('x-multi'), ['one, two']);
    assert.deepEqual(values('location'), ['/shop/v1/items/7'], 'the upstream address never reaches the client');
    assert.deepEqual(values('content-type'), ['application/json']);
    assert.deepEqual(values('content-length'), ['2']);
    const requestId = values('x-request-id');
    assert.equal(requestId.length, 1);
    assert.match(requestId[0]!, /^[0-9a-f]{16}$/, 'the gateway\'s request id, not the upstream\'s');
  });

  it('honours a valid traceparent, forwards its own span as parent, and answers with a request id', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${gw.url}/shop/v1/items`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=abc' },
    });
    assert.equal(response.status, 200);
    const requestId = response.headers.get('x-request-id');
    assert.match(requestId ?? '', /^[0-9a-f]{16}$/);
    const sent = upstream.seen[0]!.headers;
    assert.equal(sent.traceparent, `00-${traceId}-${requestId}-01`);
    assert.equal(sent.tracestate, 'vendor=abc');
    const record = await gw.waitForRecord((r) => r.requestId === requestId);
    assert.equal(record.traceId, traceId);
  });

  it('starts a new trace when traceparent is missing or malformed', async () => {
    for (const header of [undefined, 'garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']) {
      upstream.seen.length = 0;
      const response = await fetch(`${gw.url}/shop/v1/items`, { headers: header === undefined ? { tracestate: 'vendor=abc' } : { traceparent: header, tracestate: 'vendor=abc' } });
      assert.equal(response.status, 200);
      const sent = String(upstream.seen[0]!.headers.traceparent);
      assert.equal(upstream.seen[0]!.headers.tracestate, undefined, 'tracestate never travels without its traceparent');
      assert.match(sent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.ok(!sent.includes('4bf92f3577b34da6a3ce929d0e0e4736') && !sent.startsWith('00-0000'));
    }
  });

  it('forwards request bodies byte for byte, fixed-length and chunked', async () => {
    const body = JSON.stringify({ sku: 'FURN-0001', qty: 2, note: 'é ü – ✓' });
    const fixed = await fetch(`${gw.url}/shop/v1/items`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(fixed.status, 200);
    assert.equal(upstream.seen[0]!.body, body);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${gw.url}/shop/v1/items`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 20);
    });
    assert.equal(chunked, 200);
    assert.equal(upstream.seen[1]!.body, body);
  });

  it('streams large bodies both ways, waiting for drains on each leg, byte for byte', async () => {
    // 6 MiB each way, far past every stream buffer, and a client that reads slowly: the
    // gateway must pause the upstream answer until the client drains it, and the same for
    // the request body towards the upstream.
    const payload = randomBytes(6 * 1024 * 1024).toString('base64');
    upstream.behave((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(req.body) });
      res.end(req.body);
    });
    const received = await new Promise<{ status: number; body: string; pauses: number }>((resolve, reject) => {
      const req = request(`${gw.url}/bulk/v1/items`, { method: 'POST', headers: { 'content-type': 'text/plain' } }, (res) => {
        const chunks: Buffer[] = [];
        let pauses = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (chunks.length % 8 === 0) {
            pauses++;
            res.pause();
            setTimeout(() => res.resume(), 2);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), pauses }));
        res.on('error', reject);
      });
      req.on('error', reject);
      let offset = 0;
      const writeMore = (): void => {
        while (offset < payload.length) {
          const piece = payload.slice(offset, (offset += 64 * 1024));
          if (!req.write(piece)) {
            req.once('drain', writeMore);
            return;
          }
        }
        req.end();
      };
      writeMore();
    });
    assert.equal(received.status, 200);
    assert.ok(received.pauses > 10, 'the client read slowly');
    assert.equal(upstream.seen[0]!.body.length, payload.length);
    assert.ok(upstream.seen[0]!.body === payload, 'the upstream got the body byte for byte');
    assert.ok(received.body === payload, 'the client got the answer byte for byte');
  });

  it('aborts the upstream call of a client that left, so the pool is not wedged', async () => {
    // The upstream holds the calls 15 s (the route allows 60): a wedged pool would make the
    // next POST wait that long.
    upstream.behave((req, res) => void setTimeout(() => echo(req, res), 15_000).unref());
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const aborted = controllers.map((controller, i) =>
      fetch(`${gw.url}/bulk/v1/items?abandoned=${i}`, { method: 'POST', body: '{"x":1}', signal: controller.signal }).catch(() => 'aborted'),
    );
    // Leave only once every call is held at the upstream, so each one is truly in flight.
    await until('all twenty calls at the upstream', () => upstream.seen.length >= 20);
    assert.equal(upstream.seen.length, 20, 'all twenty calls reached the upstream');
    for (const controller of controllers) controller.abort();
    assert.deepEqual(new Set(await Promise.all(aborted)), new Set(['aborted']));
    upstream.behave(echo);
    const started = performance.now();
    const next = await fetch(`${gw.url}/bulk/v1/items`, { method: 'POST', body: '{"after":true}' });
    assert.equal(next.status, 200);
    assert.ok(performance.now() - started < 7_500, 'the next POST does not wait behind abandoned upstream calls');
    const abandoned = async () => gw.accessRecords().filter((r) => r.path.includes('abandoned='));
    const abandonedRecords = await until('twenty abandoned records', async () => {
      const records = await abandoned();
      return records.length >= 20 && records;
    });
    assert.equal(abandonedRecords.length, 20);
    assert.ok(abandonedRecords.every((r) => r.aborted), 'each abandoned request is recorded as aborted');
    // The abandoned upstream calls were destroyed, not left holding sockets until the
    // upstream answered (15 s later).
    const metrics = await (await fetch(`${gw.statusUrl}/metrics`)).text();
    assert.match(metrics, /gatehouse_upstream_sockets\{state="active"\} 0/);
    assert.match(metrics, /gatehouse_upstream_sockets\{state="queued"\} 0/);
  });

  it('injects the upstream credential and never lets a planted caller credential travel or be logged', async () => {
    const planted = 'PLANTED-caller-token-5d7e';
    const response = await fetch(`${gw.url}/shop/v1/items?api_key=PLANTED-query-key-3b1f&page=2`, {
      headers: { authorization: `Bearer ${planted}`, 'x-api-key': 'PLANTED-header-key-8a0c', cookie: 'session=PLANTED-cookie-1e4d' },
    });
    assert.equal(response.status, 200);
    const sent = upstream.seen[0]!;
    assert.equal(sent.headers.authorization, 'Bearer PLANTED-upstream-token-91c2');
    assert.equal(sent.headers['x-api-key'], undefined);
    assert.equal(sent.headers.cookie, undefined);
    const responseText = JSON.stringify([...response.headers]) + (await response.text());
    const record = await gw.waitForRecord((r) => r.path.startsWith('/shop/v1/items?api_key='));
    assert.equal(record.path, '/shop/v1/items?api_key=[redacted]&page=2');
    const logged = [...gw.logLines(), ...gw.accessRecords().map((r) => JSON.stringify(r))].join('\n');
    for (const secret of [planted, 'PLANTED-header-key-8a0c', 'PLANTED-cookie-1e4d', 'PLANTED-query-key-3b1f', 'PLANTED-upstream-token-91c2']) {
      assert.ok(!logged.includes(secret), `${secret} was logged`);
    }
    // The query string is the upstream's business and goes there as sent (the echo shows it);
    // credentials in headers never come back.
    for (const secret of [planted, 'PLANTED-header-key-8a0c', 'PLANTED-cookie-1e4d', 'PLANTED-upstream-token-91c2']) {
      assert.ok(!responseText.includes(secret), `${secret} reached the client`);
    }
  });

  it('exposes request counters, latency histograms and the applied snapshot on /metrics', async () => {
    await fetch(`${gw.url}/shop/v1/items`);
    const text = await (await fetch(`${gw.statusUrl}/metrics`)).text();
    assert.match(text, /gatehouse_requests_total\{api="shop",version="1.0.0",status="200"\} \d+/);
    assert.match(text, /gatehouse_request_duration_seconds_bucket\{le="0.005",api="shop",version="1.0.0"\} \d+/);
    assert.match(text, /gatehouse_upstream_duration_seconds_count\{api="shop",version="1.0.0"\} \d+/);
    assert.match(text, new RegExp(`gatehouse_snapshot_info\\{hash="${gw.gateway.currentHash()}"\\} 1`));
    assert.match(text, /gatehouse_snapshot_rejections_total 0/);
    assert.match(text, /gatehouse_upstream_errors_total\{api="gone",version="1.0.0",code="upstream.unavailable"\} 1/);
  });
});
