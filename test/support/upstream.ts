/**
 * @module A recording HTTP upstream for gateway tests: answers JSON, records every request
 * (method, path, headers, body) so tests can assert what reached it — or that nothing did.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export type UpstreamBehaviour = (req: SeenRequest, res: ServerResponse) => void;

export interface RecordingUpstream {
  readonly url: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  /** Replaces how it answers (default: 200 JSON echo of method and url). */
  behave(behaviour: UpstreamBehaviour): void;
  close(): Promise<void>;
}

export const echo: UpstreamBehaviour = (req, res) => {
  const body = JSON.stringify({ method: req.method, url: req.url, body: req.body });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

export async function startRecordingUpstream(port = 0): Promise<RecordingUpstream> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let behaviour: UpstreamBehaviour = echo;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      behaviour(request, res);
    });
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    seen,
    behave(next) {
      behaviour = next;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
