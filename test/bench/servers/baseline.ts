/** @module Baseline proxy for the benchmark: bare node:http + http-proxy, the engine under http-proxy-middleware 3. */
import { Agent, createServer, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } },
});
if (values.upstream === undefined) throw new Error('usage: baseline.ts --upstream http://127.0.0.1:<port>');

// Same pool shape the gateway is expected to use, so the ratio measures the gateway's own work.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: values.upstream, agent });

proxy.on('error', (_err, _req, res) => {
  // http-proxy hands a Socket here for WebSocket upgrades; only HTTP responses can get a 502.
  if (!(res instanceof ServerResponse)) {
    res.destroy();
    return;
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(502, { 'content-type': 'application/json' });
  res.end('{"error":"bad_gateway"}');
});

const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  process.stdout.write(`LISTENING ${address.port}\n`);
});
