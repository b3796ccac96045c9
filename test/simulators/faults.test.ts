/** @module Tests for the shared simulator host: call recording, down/up, hang, slow, keep-alive and prompt close. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startSimulatorServer } from './faults.js';
import type { SimulatorHandle } from './faults.js';
import { jsonResponse } from './http-util.js';

/** Collects the error code of a rejected fetch (undici puts it on `cause`). */
async function fetchError(url: string, init: RequestInit = {}): Promise<string> {
  try {
    await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; name?: string } }).cause;
    return cause?.code ?? (err as Error).name;
  }
  return 'no error';
}

describe('startSimulatorServer faults', () => {
  let sim: SimulatorHandle;
  let handled = 0;

  before(async () => {
    sim = await startSimulatorServer((req) => {
      handled += 1;
      return jsonResponse(200, { path: req.url.pathname, body: req.body });
    });
  });
  after(() => sim.close());

  it('listens on 127.0.0.1 with an ephemeral port and records calls in order', async () => {
    assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(sim.port > 0);
    sim.resetCalls();
    await fetch(`${sim.url}/a?x=1`, { method: 'POST', body: 'hello', headers: { 'x-test': 'yes' } });
    await fetch(`${sim.url}/b`);
    assert.deepEqual(sim.calls.map((c) => [c.method, c.path]), [['POST', '/a?x=1'], ['GET', '/b']]);
    assert.equal(sim.calls[0]!.body, 'hello');
    assert.equal(sim.calls[0]!.headers['x-test'], 'yes');
    assert.equal(typeof sim.calls[0]!.at, 'number');
    sim.resetCalls();
    assert.equal(sim.calls.length, 0);
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ports: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${sim.url}/ka`, { agent }, (res) => {
          ports.push(res.socket.localPort!);
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    }
    agent.destroy();
    assert.equal(new Set(ports).size, 1, 'all three requests used the same socket');
  });

  it('goDown refuses connections (ECONNREFUSED) and comeUp serves again on the same port', async () => {
    // A dedicated simulator: no pooled keep-alive socket exists, so the first request after
    // goDown must dial and is refused (a pooled socket would instead see a reset, as on a crash).
    const own = await startSimulatorServer((req) => jsonResponse(200, { path: req.url.pathname }));
    try {
      const port = own.port;
      await own.goDown();
      assert.equal(await fetchError(`${own.url}/down`), 'ECONNREFUSED');
      assert.equal(own.calls.length, 0);
      await own.comeUp();
      assert.equal(own.port, port);
      const res = await fetch(`${own.url}/up`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { path: string }).path, '/up');
    } finally {
      await own.close();
    }
  });

  it('hang accepts and records a request but never answers; normal() releases held requests', async () => {
    sim.resetCalls();
    sim.hang();
    const before = handled;
    assert.equal(await fetchError(`${sim.url}/hung`, { signal: AbortSignal.timeout(300) }), 'TimeoutError');
    assert.equal(sim.calls.length, 1, 'the hung request was recorded');
    assert.equal(sim.calls[0]!.path, '/hung');
    assert.equal(handled, before, 'the handler did not run');
    const pending = fetch(`${sim.url}/later`);
    await new Promise((r) => setTimeout(r, 50));
    sim.normal();
    const res = await pending;
    assert.equal(((await res.json()) as { path: string }).path, '/later');
  });

  it('slow(200) delays answers by about 200 ms, normal() removes the delay', async () => {
    sim.slow(200);
    const started = Date.now();
    await (await fetch(`${sim.url}/slow`)).text();
    assert.ok(Date.now() - started >= 190, `took ${Date.now() - started} ms`);
    // Only lower bounds are timing-exact; the upper bound is generous so a loaded machine passes.
    sim.slow(5000);
    sim.normal();
    const res = await fetch(`${sim.url}/fast`, { signal: AbortSignal.timeout(2000) });
    assert.equal(res.status, 200);
  });

  it('close() returns promptly while a request is hung, and the client sees the socket die', async () => {
    const other = await startSimulatorServer(() => jsonResponse(200, {}));
    other.hang();
    const pending = fetchError(`${other.url}/stuck`);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await other.close();
    assert.ok(Date.now() - started < 10_000, 'close did not wait for the hung request (it never ends)');
    assert.notEqual(await pending, 'no error');
    assert.equal(await fetchError(`${other.url}/after`), 'ECONNREFUSED');
    await assert.rejects(other.comeUp(), /closed/);
  });
});
