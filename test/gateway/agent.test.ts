/**
 * The upstream pool's idle timeout (`IdleTimeoutAgent`), against a real server: an idle pooled
 * socket is dropped, a reused socket is never cut mid-request by that timeout, and a shorter
 * `Keep-Alive: timeout=N` from the upstream shortens it to N − 1 s, as Node's own agent does.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { IdleTimeoutAgent } from '../../gateway/proxy.js';
import { until } from '../support/until.js';

interface Upstream {
  url: string;
  server: Server;
  /** `performance.now()` at which each connection closed, in accept order. */
  closedAt: (number | undefined)[];
}

async function startUpstream(keepAliveTimeoutMs: number): Promise<Upstream> {
  const closedAt: (number | undefined)[] = [];
  const server = createServer((req, res) => {
    const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), delay);
  });
  server.keepAliveTimeout = keepAliveTimeoutMs;
  server.on('connection', (socket: Socket) => {
    const index = closedAt.push(undefined) - 1;
    socket.on('close', () => (closedAt[index] = performance.now()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, closedAt };
}

function get(url: string, agent: IdleTimeoutAgent): Promise<{ status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      socketTimeouts.push((req.socket as Socket).timeout ?? 0);
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The socket's timeout while each request's answer arrived, in order (0: none). */
const socketTimeouts: number[] = [];

describe('upstream pool idle timeout', () => {
  const upstreams: Upstream[] = [];
  const agents: IdleTimeoutAgent[] = [];
  after(async () => {
    for (const agent of agents) agent.destroy();
    for (const upstream of upstreams) {
      upstream.server.closeAllConnections();
      await new Promise((resolve) => upstream.server.close(resolve));
    }
  });

  it('drops a pooled socket idle past the timeout, and never cuts a reused socket mid-request', async () => {
    const upstream = await startUpstream(60_000);
    upstreams.push(upstream);
    const agent = new IdleTimeoutAgent(200);
    agents.push(agent);
    assert.deepEqual(await get(`${upstream.url}/`, agent), { status: 200, reused: false });
    // Reused at once, then held three idle timeouts long: the request still completes.
    assert.deepEqual(await get(`${upstream.url}/?delay=600`, agent), { status: 200, reused: true });
    assert.equal(upstream.closedAt.length, 1, 'one connection served both requests');
    assert.equal(upstream.closedAt[0], undefined, 'still open after the slow request');
    assert.equal(socketTimeouts.at(-1), 0, 'a reused socket carries no timeout while in use');
    const idleFrom = performance.now();
    const closedAfter = (await until('the pooled connection closed', () => upstream.closedAt[0])) - idleFrom;
    // The upstream would hold it 60 s: any close well before that is the agent's; the upper
    // bound is loose so a starved machine passes.
    assert.ok(closedAfter >= 150 && closedAfter < 30_000, `dropped after ${Math.round(closedAfter)} ms idle`);
    assert.equal(Object.keys(agent.freeSockets).length, 0, 'nothing left in the pool');
  });

  it("drops an idle socket a second before the upstream's announced Keep-Alive timeout", async () => {
    // Node's server announces `Keep-Alive: timeout=3` and closes after 3 s itself.
    const upstream = await startUpstream(3000);
    upstreams.push(upstream);
    const agent = new IdleTimeoutAgent(60_000);
    agents.push(agent);
    const idleFrom = performance.now();
    assert.equal((await get(`${upstream.url}/`, agent)).status, 200);
    // Who closed it, seen from the client: a socket the upstream closed first reads its FIN
    // ('end') before 'close'. Timers fire in deadline order even after a stall, so the agent's
    // 2-s one runs first and a starved machine tells the same story; a time bound would not.
    const pooled = Object.values(agent.freeSockets).flat()[0];
    assert.ok(pooled !== undefined, 'the socket went back to the pool');
    let finFromUpstream = false;
    pooled.once('end', () => (finFromUpstream = true));
    const closedAfter = (await until('the pooled connection closed', () => upstream.closedAt[0])) - idleFrom;
    assert.ok(closedAfter >= 1800, `dropped by the agent after ${Math.round(closedAfter)} ms, not before Keep-Alive timeout − 1 s`);
    assert.equal(finFromUpstream, false, "the agent closed the socket, not the upstream's 3-s keep-alive timeout");
  });
});
