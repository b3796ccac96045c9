/**
 * @module Listens for a gateway: the traffic port and the status port. Malformed requests that
 * Node's parser refuses still get a problem document, not Node's plain-text 400.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PROBLEM_CODES, PROBLEM_TYPE_BASE, type ProblemCode } from '../contracts/index.js';
import type { Gateway } from './gateway.js';

export interface GatewayServers {
  readonly trafficUrl: string;
  readonly statusUrl: string;
  readonly traffic: Server;
  readonly status: Server;
  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then closes the gateway. */
  close(graceMs?: number): Promise<void>;
}

export interface ListenOptions {
  gateway: Gateway;
  host?: string;
  port?: number;
  statusPort?: number;
  /** Largest header section Node accepts (default 16 KiB); bigger answers 431. */
  maxHeaderSize?: number;
}

function clientErrorProblem(code: ProblemCode, detail: string): string {
  const { status, title } = PROBLEM_CODES[code];
  // Never parsed, so never traced upstream: the ids are fresh, for the client's report.
  const traceId = randomBytes(16).toString('hex');
  const requestId = randomBytes(8).toString('hex');
  const body = JSON.stringify({ type: PROBLEM_TYPE_BASE + code, title, status, detail, code, traceId });
  return (
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-Id: ${requestId}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`
  );
}

function onClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const text =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? clientErrorProblem('request.headers_too_large', 'The header section is too large.')
      : error.code === 'HPE_URI_TOO_LONG'
        ? clientErrorProblem('request.url_too_long', 'The request target is too long.')
        : clientErrorProblem('request.invalid_header', 'The request is not valid HTTP/1.1.');
  socket.end(text);
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve(`http://${host.includes(':') ? `[${host}]` : host}:${address.port}`);
    });
  });
}

/**
 * @example
 * const servers = await listenGateway({ gateway, host: '127.0.0.1', port: 8080, statusPort: 8081 });
 * console.log(servers.trafficUrl);
 */
export async function listenGateway(options: ListenOptions): Promise<GatewayServers> {
  const host = options.host ?? '127.0.0.1';
  const traffic = createServer({ maxHeaderSize: options.maxHeaderSize ?? 16_384, keepAliveTimeout: 65_000, requestTimeout: 300_000 }, options.gateway.app);
  traffic.headersTimeout = 66_000;
  traffic.on('clientError', onClientError);
  const status = createServer(options.gateway.statusApp);
  const trafficUrl = await listen(traffic, options.port ?? 0, host);
  let statusUrl: string;
  try {
    statusUrl = await listen(status, options.statusPort ?? 0, host);
  } catch (error) {
    // Leave nothing half-open: the caller sees one failure and no listener.
    await new Promise((resolve) => traffic.close(resolve));
    throw error;
  }
  return {
    trafficUrl,
    statusUrl,
    traffic,
    status,
    async close(graceMs = 10_000) {
      const closing = Promise.all([new Promise((r) => traffic.close(r)), new Promise((r) => status.close(r))]);
      traffic.closeIdleConnections();
      const timer = setTimeout(() => {
        traffic.closeAllConnections();
        status.closeAllConnections();
      }, graceMs);
      await closing;
      clearTimeout(timer);
      await options.gateway.close();
    },
  };
}
