/** @module Tiny upstream for the benchmark: fixed JSON for GET /items, 201 for POST /orders. */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

// Built once so every GET answers the same ~300 bytes with no per-request serialisation.
const ITEMS_BODY = Buffer.from(
  JSON.stringify({
    items: [
      { sku: 'SKU-10001', name: 'Espresso cup, white', price: 7.5, currency: 'EUR', stock: 42 },
      { sku: 'SKU-10002', name: 'Cappuccino cup, white', price: 8.9, currency: 'EUR', stock: 17 },
      { sku: 'SKU-10003', name: 'Milk jug, steel 350 ml', price: 14.0, currency: 'EUR', stock: 5 },
    ],
    page: { size: 3, next: null },
  }),
);
const NOT_FOUND_BODY = Buffer.from('{"error":"not_found"}');

let nextOrderId = 1;

function send(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function handleOrder(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    // Parsing proves the proxy forwarded the body intact: a mangled body answers 400,
    // which the runner counts as non-2xx instead of silently measuring it.
    let lines = 0;
    try {
      const order = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { lines?: unknown };
      if (!Array.isArray(order.lines)) throw new TypeError('lines must be an array');
      lines = order.lines.length;
    } catch {
      send(res, 400, Buffer.from('{"error":"bad_order"}'));
      return;
    }
    const id = nextOrderId++;
    send(res, 201, Buffer.from(`{"id":"ord_${id}","status":"accepted","lines":${lines}}`));
  });
}

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/items') send(res, 200, ITEMS_BODY);
  else if (req.method === 'POST' && req.url === '/orders') handleOrder(req, res);
  else {
    req.resume();
    send(res, 404, NOT_FOUND_BODY);
  }
});
// Longer than any run, so proxies' pooled keep-alive sockets are never closed under them.
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  process.stdout.write(`LISTENING ${address.port}\n`);
});
