/** @module The paced load generator: one schedule, the warm-up's answers left out of the counts. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { runLoad, type LoadSpec } from './load.js';

/** A server that answers 500 to its first `failFirst` requests and 200 after. */
async function failingFirst(failFirst: number): Promise<{ server: Server; url: string; seen: () => number }> {
  let seen = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen += 1;
      res.writeHead(seen <= failFirst ? 500 : 200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`, seen: () => seen };
}

function spec(url: string): LoadSpec {
  // 200 req/s, 5 ms apart: one request in flight at a time, so the server sees them in schedule order.
  return { mode: 'paced', url, method: 'GET', headers: {}, connections: 4, durationSec: 0.5, warmupSec: 0.5, rate: 200 };
}

test('paced load counts only requests due after the warm-up', { timeout: 20_000 }, async () => {
  // The warm-up is the first 100 requests: 60 failures there are not counted.
  const { server, url, seen } = await failingFirst(60);
  try {
    const result = await runLoad(spec(url));
    assert.equal(seen(), 200, 'warm-up and measured requests on one schedule');
    assert.equal(result.requests, 100);
    assert.equal(result.non2xx, 0);
    assert.equal(result.errors, 0);
    assert.ok(result.p50 > 0 && result.p99 >= result.p50 && result.max >= result.p99);
    assert.ok(result.rps > 0);
  } finally {
    server.close();
  }
});

test('paced load counts failures after the warm-up', { timeout: 20_000 }, async () => {
  // 130 failures: the last 30 fall in the measured window.
  const { server, url } = await failingFirst(130);
  try {
    const result = await runLoad(spec(url));
    assert.equal(result.requests, 100);
    assert.equal(result.non2xx, 30);
    assert.equal(result.errors, 0);
  } finally {
    server.close();
  }
});

test('paced load counts refused connections as errors', { timeout: 20_000 }, async () => {
  const { server, url } = await failingFirst(0);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const result = await runLoad({ ...spec(url), warmupSec: 0, durationSec: 0.1 });
  assert.equal(result.errors, 20);
  assert.equal(result.requests, 0);
  assert.equal(result.timeouts, 0);
});
