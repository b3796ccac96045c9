/** @module HTTP host shared by the simulators: loopback listener, call recording and fault injection (down, hang, slow). */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SimHandler, SimResponse } from './http-util.js';

/** One request as received, recorded before any fault is applied. */
export interface RecordedCall {
  method: string;
  /** Path including the query string, as sent. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** `Date.now()` when the body had been read. */
  at: number;
}

/** Control surface every simulator returns. */
export interface SimulatorHandle {
  /** Base URL, e.g. `http://127.0.0.1:8069`. */
  readonly url: string;
  readonly port: number;
  /** Every request received (including ones that then hang), in order. */
  readonly calls: RecordedCall[];
  resetCalls(): void;
  /**
   * Stop listening (new connections get ECONNREFUSED) and destroy open sockets; state and
   * port are kept. A client that reuses a pooled keep-alive socket may see a reset
   * (ECONNRESET / UND_ERR_SOCKET) on its next request instead, as with a real crash.
   */
  goDown(): Promise<void>;
  /** Listen again on the same port. */
  comeUp(): Promise<void>;
  /**
   * Accept requests but never answer. Requests held while hung are answered when the
   * mode changes back (`normal()` / `slow()`), unless their client gave up first.
   */
  hang(): void;
  /** Answer every request after `delayMs`. */
  slow(delayMs: number): void;
  normal(): void;
  /** Stop for good, destroying open sockets (including hung ones) so tests never hang. */
  close(): Promise<void>;
}

/** Options of {@link startSimulatorServer}. */
export interface SimulatorServerOptions {
  /** TCP port on 127.0.0.1; `0` (default) picks an ephemeral port. */
  port?: number;
  /** Keep-alive idle timeout in ms (default 5000; Gatehouse uses a keep-alive agent). */
  keepAliveTimeoutMs?: number;
  /**
   * Carry out a request whose client went away before it was answered, as a real server's
   * worker does (Odoo commits the call's transaction whether or not anyone reads the answer).
   * Default false: such a request has no effect.
   */
  completeAbandoned?: boolean;
}

type Mode = { kind: 'normal' } | { kind: 'hang' } | { kind: 'slow'; delayMs: number };

/**
 * Serves a pure {@link SimHandler} on 127.0.0.1 with call recording and fault controls.
 * The handler sees the request only when it is answered, so a hung request has no
 * side effects until it is released.
 *
 * @param handler protocol logic; exceptions become a 500 text/plain response
 * @param options `port` (default 0), `keepAliveTimeoutMs` (default 5000), `completeAbandoned` (default false)
 * @example
 * const sim = await startSimulatorServer((req) => jsonResponse(200, { path: req.url.pathname }));
 * sim.hang();            // next requests stall
 * await sim.close();     // still returns promptly
 */
export async function startSimulatorServer(
  handler: SimHandler,
  options: SimulatorServerOptions = {},
): Promise<SimulatorHandle> {
  const calls: RecordedCall[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let held: Array<() => void> = [];
  let mode: Mode = { kind: 'normal' };
  let server: Server | undefined;
  let port = options.port ?? 0;
  let closed = false;

  const baseUrl = (): string => `http://127.0.0.1:${port}`;

  function write(res: ServerResponse, response: SimResponse): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(response.status, response.headers ?? {});
    res.end(response.body ?? '');
  }

  function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    if (res.destroyed && options.completeAbandoned !== true) return;
    let response: SimResponse;
    try {
      response = handler({
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', baseUrl()),
        headers: req.headers,
        body,
        baseUrl: baseUrl(),
      });
    } catch (err) {
      response = { status: 500, headers: { 'content-type': 'text/plain' }, body: `simulator error: ${(err as Error).stack}` };
    }
    write(res, response);
  }

  function dispatch(req: IncomingMessage, res: ServerResponse, body: string): void {
    if (mode.kind === 'hang') {
      held.push(() => dispatch(req, res, body));
    } else if (mode.kind === 'slow') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer(req, res, body);
      }, mode.delayMs);
      timers.add(timer);
    } else {
      answer(req, res, body);
    }
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      calls.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, body, at: Date.now() });
      dispatch(req, res, body);
    });
  }

  function listen(): Promise<void> {
    const next = createServer(onRequest);
    next.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
    next.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        next.off('error', reject);
        const address = next.address();
        if (address !== null && typeof address === 'object') port = address.port;
        server = next;
        resolve();
      });
    });
  }

  function stop(): Promise<void> {
    const current = server;
    server = undefined;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    held = [];
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (current === undefined) return Promise.resolve();
    // The extra turn lets in-process clients (fetch's pool) observe the closed sockets, so the
    // next request dials anew and gets ECONNREFUSED instead of a reset on a dead pooled socket.
    return new Promise((resolve) => current.close(() => setTimeout(resolve, 10)));
  }

  function setMode(next: Mode): void {
    mode = next;
    if (next.kind === 'hang') return;
    const release = held;
    held = [];
    for (const run of release) run();
  }

  await listen();

  return {
    get url() {
      return baseUrl();
    },
    get port() {
      return port;
    },
    calls,
    resetCalls: () => {
      calls.length = 0;
    },
    goDown: stop,
    comeUp: async () => {
      if (closed) throw new Error('simulator is closed');
      if (server === undefined) await listen();
    },
    hang: () => setMode({ kind: 'hang' }),
    slow: (delayMs: number) => setMode({ kind: 'slow', delayMs }),
    normal: () => setMode({ kind: 'normal' }),
    close: () => {
      closed = true;
      return stop();
    },
  };
}
