/**
 * @module The last step of every pipeline: forward to the upstream with http-proxy-middleware
 * over a shared keep-alive agent. One middleware instance serves every snapshot (its router
 * picks the pre-parsed target), default plugins are ejected, and responses are handled here:
 * streamed when the adapter does not need them, read and mapped when it does. Connect and
 * response timeouts are per upstream; refused → 502, timeout → 504, both as problems.
 */
import { Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex, Readable, Stream, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import { createProxyMiddleware, type Plugin } from 'http-proxy-middleware';
import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, ExponentialBackoff, handleAll, type CircuitBreakerPolicy, type IBackoff } from 'cockatiel';
import type { CircuitBreakerSpec, RetrySpec } from '../contracts/index.js';
import type { CapturedResponse, RequestContext } from '../contracts/index.js';
import { GatewayError, sendCaptured, transformCaptured, type Logger } from '../policies/index.js';
import { watchAgent, type GatewayMetrics } from './metrics.js';
import { renderProblem, toGatewayError } from './problem.js';
import type { CompiledVersion } from './router.js';
import type { MappedResponse } from './upstreams/index.js';

const PASS: MappedResponse = { kind: 'pass' };

const EXCHANGE = Symbol('gatehouse.exchange');

interface Exchange {
  readonly ctx: RequestContext;
  readonly res: ServerResponse;
  readonly route: CompiledVersion;
  sentAt: number;
  proxyReq: import('node:http').ClientRequest | undefined;
  /** The client left before the answer was complete. */
  abandoned: boolean;
  timedOut: 'connect' | 'response' | undefined;
  /** Response headers arrived (or the exchange failed): no deadline applies any more. */
  settled: boolean;
  /** The client's request has no body (no length, not chunked). */
  readonly bodiless: boolean;
  /** Already sent a second time after a credential refresh (at most once). */
  replayed: boolean;
  /** Retries made so far, and the backoff that gives the next delay. */
  attempt: number;
  backoff: IBackoff<unknown> | undefined;
  /** Settles the circuit breaker's view of the current attempt (undefined: none pending). */
  outcome: { resolve(): void; reject(error: Error): void } | undefined;
  /** Links of the in-flight list (see `InflightList`). */
  prev: Exchange | undefined;
  next: Exchange | undefined;
}

/**
 * Exchanges awaiting their upstream's response headers, as an intrusive doubly-linked list:
 * O(1) in and out with no per-request allocation. A `Set` here measured 4× the scavenge time:
 * its hash table, promoted to old space, kept young exchanges alive through the write barrier.
 */
class InflightList {
  head: Exchange | undefined;

  add(exchange: Exchange): void {
    exchange.next = this.head;
    if (this.head !== undefined) this.head.prev = exchange;
    this.head = exchange;
  }

  delete(exchange: Exchange): void {
    if (exchange.prev !== undefined) exchange.prev.next = exchange.next;
    else if (this.head === exchange) this.head = exchange.next;
    if (exchange.next !== undefined) exchange.next.prev = exchange.prev;
    exchange.prev = undefined;
    exchange.next = undefined;
  }
}

/** The client request or the upstream response, carrying its exchange. */
type ExchangeMessage = IncomingMessage & { [EXCHANGE]?: Exchange };
type ExchangeRequest = ExchangeMessage;

/** What http-proxy pipes into the upstream request in place of the client's: a buffered body. */
class BufferedBody {
  constructor(private readonly body: Buffer) {}

  pipe(proxyReq: ClientRequest): ClientRequest {
    proxyReq.end(this.body);
    return proxyReq;
  }
}

/** …and for a request that has no body. */
const NO_BODY = {
  pipe(proxyReq: ClientRequest): ClientRequest {
    proxyReq.end();
    return proxyReq;
  },
};

/**
 * …and for a body that is streamed through: what `pipe` does for it (write, pause until
 * drained, end) without adding and removing its six listeners per request. Once the upstream
 * request is gone the rest is read and dropped, so the client's connection stays usable.
 */
class StreamedBody {
  constructor(private readonly req: IncomingMessage) {}

  pipe(proxyReq: ClientRequest): ClientRequest {
    const req = this.req;
    req.on('data', (chunk: Buffer) => writeHeld(req, proxyReq, chunk));
    req.on('end', () => proxyReq.end());
    return proxyReq;
  }
}

/**
 * Streams the upstream answer to the client: what `pipe` does for a response (write, pause
 * until drained, end) without adding and removing its six listeners per request.
 */
function relay(proxyRes: ExchangeMessage): void {
  proxyRes.on('data', relayChunk);
  proxyRes.on('end', relayEnd);
}

function relayChunk(this: ExchangeMessage, chunk: Buffer): void {
  writeHeld(this, this[EXCHANGE]!.res, chunk);
}

/**
 * `pipe`'s flow control for one chunk: write it, and hold the source until the sink drains. A
 * sink already destroyed is not waited for (a client that left is aborted upstream by `release`;
 * the rest of a body whose upstream request is gone is read and dropped).
 */
function writeHeld(source: Readable, sink: Writable, chunk: Buffer): void {
  if (!sink.write(chunk) && !sink.destroyed) {
    source.pause();
    sink.once('drain', () => source.resume());
  }
}

function relayEnd(this: ExchangeMessage): void {
  this[EXCHANGE]!.res.end();
}

/** A response that dies half-way must not leave the client waiting for the rest. */
function onUpstreamResponseClose(this: ExchangeMessage): void {
  const res = this[EXCHANGE]?.res;
  if (!this.complete && res !== undefined && !res.writableEnded) res.destroy();
}

/** Response headers never relayed (RFC 9110 §7.6.1) plus what would fingerprint the upstream. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-powered-by',
]);

/** RFC 9110 §9.2.2: sending these twice has the effect of sending them once. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** The request can be sent again: its body was buffered, or it has none (not streamed away). */
function bodyAtHand(ctx: RequestContext): boolean {
  const headers = ctx.upstreamHeaders;
  return ctx.body !== undefined || (headers['transfer-encoding'] === undefined && (headers['content-length'] ?? '0') === '0');
}

/** A retry plan compiled from `RetrySpec`. */
export interface RetryPlan {
  readonly attempts: number;
  readonly statuses: ReadonlySet<number>;
  readonly backoff: ExponentialBackoff<unknown>;
}

export function compileRetry(spec: RetrySpec): RetryPlan | undefined {
  if (spec.attempts === 0) return undefined;
  return {
    attempts: spec.attempts,
    statuses: new Set(spec.statuses),
    // cockatiel's default generator: exponential with decorrelated jitter (AWS / Polly advice).
    backoff: new ExponentialBackoff({ initialDelay: spec.baseDelayMs, maxDelay: spec.maxDelayMs }),
  };
}

/** The breaker of one upstream, kept for the gateway's lifetime. */
export interface Circuit {
  readonly name: string;
  readonly policy: CircuitBreakerPolicy;
  readonly halfOpenAfterMs: number;
  /** `performance.now()` when it last opened. */
  openedAt: number;
}

/** Statuses that count as the upstream failing (for the breaker), besides refused and timed-out connections. */
const FAILURE_STATUSES = new Set([502, 503, 504]);

/** Precision of connect and response timeouts. */
const SWEEP_INTERVAL_MS = 20;

/** Largest upstream response an adapter may read whole to map errors. */
const MAX_INSPECTED_BODY = 32 * 1024 * 1024;

export interface Forwarder {
  forward(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, route: CompiledVersion): void;
  /**
   * Called when the client side closes: a request the client left is aborted upstream at
   * once, so its keep-alive socket is not held until the upstream answers (performance.md).
   */
  release(req: IncomingMessage, res: ServerResponse): void;
  readonly agent: Agent;
  /**
   * The breaker for an upstream origin (one per origin and settings, for the gateway's
   * lifetime, so a snapshot swap neither resets nor forgets it); undefined when disabled.
   */
  circuitFor(origin: string, spec: CircuitBreakerSpec): Circuit | undefined;
  close(): void;
}

export interface ForwarderOptions {
  logger: Logger;
  metrics: GatewayMetrics;
  /** Defaults to a keep-alive agent with 256 sockets per upstream. */
  agent?: Agent;
}

/**
 * Idle pooled sockets are dropped after this long, before typical upstream keep-alive timeouts
 * (5 s), so a reused socket is rarely one the upstream is closing.
 */
const IDLE_SOCKET_TIMEOUT_MS = 4000;

/** When a pooled socket was last freed, and the answer's Keep-Alive hint then (undefined: none). */
const IDLE_SINCE = Symbol('gatehouse.idleSince');
const KEEP_ALIVE_HINT = Symbol('gatehouse.keepAliveHint');
type PooledSocket = Socket & { [IDLE_SINCE]?: number; [KEEP_ALIVE_HINT]?: string | undefined };

/**
 * A keep-alive agent whose timeout applies to idle sockets only. Node's `timeout` option arms
 * the socket for the request too: a `timeout` listener added and removed per request and a
 * timer refreshed on every read and write, for a deadline the sweep enforces anyway. Idle
 * sockets are found by a sweep over the pool a few times per timeout, so a request costs two
 * property writes, not a timer set when its socket is freed and cleared when it is reused.
 */
export class IdleTimeoutAgent extends Agent {
  readonly #idleMs: number;
  readonly #sweep: NodeJS.Timeout;

  constructor(idleMs: number) {
    super({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, scheduling: 'lifo' });
    this.#idleMs = idleMs;
    // A socket goes at most a quarter of its timeout (and 500 ms) past it.
    this.#sweep = setInterval(() => this.#dropIdle(), Math.max(10, Math.min(500, idleMs / 4)));
    this.#sweep.unref();
  }

  /**
   * Node returns whether the socket may be kept (typed `void` in @types/node), and refuses one
   * whose upstream announced `Keep-Alive: timeout=1` or less.
   */
  override keepSocketAlive(socket: Duplex): void {
    const kept = super.keepSocketAlive(socket) as unknown as boolean;
    if (kept) {
      const pooled = socket as PooledSocket;
      pooled[IDLE_SINCE] = performance.now();
      const res = (socket as Duplex & { _httpMessage?: ClientRequest & { res?: IncomingMessage } })._httpMessage?.res;
      const hint = res?.headers['keep-alive'];
      pooled[KEEP_ALIVE_HINT] = typeof hint === 'string' ? hint : undefined;
    }
    return kept as unknown as void;
  }

  override destroy(): void {
    clearInterval(this.#sweep);
    super.destroy();
  }

  #dropIdle(): void {
    const now = performance.now();
    for (const name in this.freeSockets) {
      for (const socket of [...(this.freeSockets[name] ?? [])] as PooledSocket[]) {
        const since = socket[IDLE_SINCE];
        // Node's agent removes a socket from its free list when it closes.
        if (since !== undefined && now - since >= idleTimeout(socket[KEEP_ALIVE_HINT], this.#idleMs)) socket.destroy();
      }
    }
  }
}

/** The idle timeout, shortened as Node would to N − 1 s under the upstream's `Keep-Alive: timeout=N` hint. */
function idleTimeout(hint: string | undefined, idleMs: number): number {
  const seconds = hint === undefined ? undefined : /^timeout=(\d+)/.exec(hint)?.[1];
  return seconds === undefined ? idleMs : Math.max(1, Math.min(idleMs, Number(seconds) * 1000 - 1000));
}

/**
 * Maps a `Location` that points into the upstream's base URL onto the gateway's path for the
 * same version (as nginx's proxy_redirect does), so clients never learn the upstream address.
 */
export function rewriteLocation(value: string, route: Pick<CompiledVersion, 'api' | 'major' | 'target'>): string {
  const { target } = route;
  let path = value;
  if (/^https?:\/\//i.test(value)) {
    const origin = `${target.protocol}//${target.host}`;
    if (!value.toLowerCase().startsWith(origin.toLowerCase())) return value;
    path = value.slice(origin.length);
  } else if (!value.startsWith('/')) {
    return value;
  }
  const base = target.path;
  if (path !== base && !path.startsWith(`${base}/`) && !path.startsWith(`${base}?`)) return value;
  const rest = path.slice(base.length);
  return `/${route.api}/v${route.major}${rest.startsWith('/') ? rest : `/${rest}`}`;
}

/**
 * The answer's header pairs for the client. Read from the headers Node parsed (its agent reads
 * them anyway, for the Keep-Alive hint): names lower-case and repeated fields folded as RFC 9110
 * §5.3 allows (Set-Cookie kept apart), as http-proxy relays them. Lower-casing `rawHeaders`
 * again here cost ~3,000 instructions a response (callgrind).
 */
function responseHeaders(proxyRes: IncomingMessage, ctx: RequestContext, dropLength: boolean, route: CompiledVersion): string[] {
  const headers = proxyRes.headers;
  const listed = headers.connection;
  const connectionListed = listed === undefined ? undefined : new Set(listed.toLowerCase().split(',').map((t) => t.trim()));
  const out: string[] = [];
  for (const name in headers) {
    if (DROPPED_RESPONSE_HEADERS.has(name) || connectionListed?.has(name) === true || name === 'x-request-id') continue;
    if (dropLength && name === 'content-length') continue;
    const value = headers[name]!;
    if (typeof value !== 'string') for (const item of value) out.push(name, item);
    else out.push(name, name === 'location' || name === 'content-location' ? rewriteLocation(value, route) : value);
  }
  out.push('x-request-id', ctx.requestId);
  const added = ctx.responseHeaders;
  if (added !== undefined) for (const name in added) out.push(name, added[name]!);
  return out;
}

/** Raw header pairs as a record (names lower-case; repeated names as arrays). */
function headerRecord(raw: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'content-length' || name === 'x-request-id') continue;
    const prior = out[name];
    out[name] = prior === undefined ? raw[i + 1]! : Array.isArray(prior) ? [...prior, raw[i + 1]!] : [prior, raw[i + 1]!];
  }
  return out;
}

/** A header record back as raw pairs. */
function headerPairs(record: Record<string, string | string[]>): string[] {
  const out: string[] = [];
  for (const name in record) {
    const value = record[name]!;
    if (Array.isArray(value)) for (const item of value) out.push(name, item);
    else out.push(name, value);
  }
  return out;
}

/**
 * @example
 * const forwarder = createForwarder({ logger, metrics });
 * forwarder.forward(req, res, ctx, compiledVersion); // answers the client itself
 */
export function createForwarder(options: ForwarderOptions): Forwarder {
  const { logger, metrics } = options;
  const agent = options.agent ?? new IdleTimeoutAgent(IDLE_SOCKET_TIMEOUT_MS);
  watchAgent(metrics, agent);

  function fail(req: ExchangeRequest, res: ServerResponse, error: unknown): void {
    const exchange = req[EXCHANGE];
    if (exchange !== undefined) answerFailure(exchange, res, error);
  }

  /** The one place an exchange's failure is answered: counted, then a fallback or the problem. */
  function answerFailure(exchange: Exchange, res: ServerResponse, error: unknown): void {
    const problem = toGatewayError(error, logger, exchange.ctx);
    if (problem.code.startsWith('upstream.')) {
      metrics.upstreamErrors.labels(exchange.route.api, exchange.route.version, problem.code).inc();
      const fallback = exchange.ctx.fallback?.(problem.code, exchange.ctx);
      if (fallback !== undefined) {
        try {
          sendCaptured(res, fallback, exchange.ctx);
        } catch (error) {
          // A response transform could not read the kept copy: withheld, never sent unchecked.
          renderProblem(res, toGatewayError(error, logger, exchange.ctx), exchange.ctx);
        }
        return;
      }
    }
    renderProblem(res, problem, exchange.ctx);
  }

  const circuits = new Map<string, Circuit>();
  function circuitFor(origin: string, spec: CircuitBreakerSpec): Circuit | undefined {
    if (!spec.enabled) return undefined;
    const key = `${origin} ${spec.consecutiveFailures} ${spec.halfOpenAfterMs}`;
    let circuit = circuits.get(key);
    if (circuit !== undefined) return circuit;
    const policy = circuitBreaker(handleAll, { halfOpenAfter: spec.halfOpenAfterMs, breaker: new ConsecutiveBreaker(spec.consecutiveFailures) });
    const made: Circuit = { name: origin, policy, halfOpenAfterMs: spec.halfOpenAfterMs, openedAt: 0 };
    const gauge = metrics.circuitState.labels(origin);
    gauge.set(0);
    policy.onStateChange((state) => {
      const name = state === CircuitState.Open ? 'open' : state === CircuitState.HalfOpen ? 'half-open' : state === CircuitState.Closed ? 'closed' : 'isolated';
      if (state === CircuitState.Open) made.openedAt = performance.now();
      gauge.set(state === CircuitState.Open ? 1 : state === CircuitState.HalfOpen ? 2 : 0);
      metrics.circuitTransitions.labels(origin, name).inc();
      const log = state === CircuitState.Open ? logger.warn : logger.info;
      log.call(logger, `circuit ${name}`, { upstream: origin });
    });
    circuits.set(key, (circuit = made));
    return circuit;
  }

  /** Tells the breaker how the current attempt went (once). */
  function report(exchange: Exchange, failure: Error | undefined): void {
    const outcome = exchange.outcome;
    if (outcome === undefined) return;
    exchange.outcome = undefined;
    if (failure === undefined) outcome.resolve();
    else outcome.reject(failure);
  }

  /** Sends the exchange's request, through the route's breaker when it has one. */
  function dispatch(req: ExchangeRequest, res: ServerResponse, exchange: Exchange): void {
    const circuit = exchange.route.circuit;
    if (circuit === undefined) {
      send(req, res, exchange);
      return;
    }
    circuit.policy
      .execute(
        () =>
          new Promise<void>((resolve, reject) => {
            exchange.outcome = { resolve, reject };
            send(req, res, exchange);
          }),
      )
      .catch((error: unknown) => {
        // Failures were answered where they happened; only a refusal by the breaker is new.
        if (error instanceof BrokenCircuitError) circuitOpen(req, res, exchange, circuit);
      });
  }

  function send(req: ExchangeRequest, res: ServerResponse, exchange: Exchange): void {
    exchange.sentAt = performance.now();
    exchange.settled = false;
    exchange.timedOut = undefined;
    exchange.proxyReq = undefined;
    inflight.add(exchange);
    // hpm catches what its own steps throw and hands it to `next`; its promise never rejects.
    void middleware(req, res, (error?: unknown) => fail(req, res, error));
  }

  function circuitOpen(req: ExchangeRequest, res: ServerResponse, exchange: Exchange, circuit: Circuit): void {
    settle(exchange);
    const waitMs = circuit.policy.state === CircuitState.Open ? circuit.openedAt + circuit.halfOpenAfterMs - performance.now() : 1000;
    const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
    fail(
      req,
      res,
      new GatewayError('upstream.circuit_open', 'The upstream is failing; the gateway stopped sending it requests for a while.', {
        headers: { 'retry-after': retryAfter },
      }),
    );
  }

  /**
   * Whether this failed attempt may be sent again: attempts left, a method that cannot do a
   * write twice (RFC 9110 idempotent, or POST / PATCH with an Idempotency-Key the upstream or
   * the idempotency policy honours), the body at hand, and a client still waiting.
   */
  function mayRetry(req: ExchangeRequest, res: ServerResponse, exchange: Exchange): boolean {
    const plan = exchange.route.retry;
    if (plan === undefined || exchange.attempt >= plan.attempts || exchange.abandoned || res.headersSent) return false;
    const method = req.method ?? 'GET';
    const headers = exchange.ctx.upstreamHeaders;
    const keyed = (method === 'POST' || method === 'PATCH') && headers['idempotency-key'] !== undefined;
    if (!IDEMPOTENT.has(method) && !keyed) return false;
    return bodyAtHand(exchange.ctx);
  }

  function retry(req: ExchangeRequest, res: ServerResponse, exchange: Exchange, reason: string): void {
    const plan = exchange.route.retry!;
    exchange.attempt++;
    exchange.backoff = (exchange.backoff ?? plan.backoff).next(undefined);
    metrics.upstreamRetries.labels(exchange.route.api, exchange.route.version, reason).inc();
    setTimeout(() => {
      if (exchange.abandoned || res.writableEnded) return;
      req.url = exchange.ctx.upstreamPath;
      dispatch(req, res, exchange);
    }, exchange.backoff.duration).unref();
  }

  function onProxyReq(proxyReq: import('node:http').ClientRequest, req: ExchangeRequest): void {
    const exchange = req[EXCHANGE];
    if (exchange === undefined) return;
    exchange.proxyReq = proxyReq;
    if (exchange.abandoned) proxyReq.destroy();
  }

  function onProxyRes(proxyRes: IncomingMessage, req: ExchangeRequest, res: ServerResponse): void {
    const exchange = req[EXCHANGE];
    if (exchange === undefined) return;
    const { ctx, route } = exchange;
    const status = proxyRes.statusCode ?? 502;
    settle(exchange);
    if (exchange.outcome !== undefined) report(exchange, FAILURE_STATUSES.has(status) ? new Error(`HTTP ${status}`) : undefined);
    if (route.retry?.statuses.has(status) === true && mayRetry(req, res, exchange)) {
      proxyRes.resume();
      retry(req, res, exchange, String(status));
      return;
    }
    ctx.upstreamStatus = status;
    ctx.upstreamLatencyMs = Math.round((performance.now() - exchange.sentAt) * 1000) / 1000;
    (proxyRes as ExchangeMessage)[EXCHANGE] = exchange;
    proxyRes.once('close', onUpstreamResponseClose);
    const inspected = route.adapter.inspects(status, proxyRes.headers, ctx);
    if (ctx.responseTaps === undefined && ctx.responseTransforms === undefined && !inspected) {
      res.writeHead(status, proxyRes.statusMessage, responseHeaders(proxyRes, ctx, false, route));
      relay(proxyRes as ExchangeMessage);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    proxyRes.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_INSPECTED_BODY) {
        proxyRes.destroy();
        fail(req, res, new GatewayError('upstream.error', 'The upstream answer is too large to inspect.'));
        return;
      }
      chunks.push(chunk);
    });
    proxyRes.on('end', () => {
      if (res.writableEnded) return;
      const body = Buffer.concat(chunks, size);
      let mapped: MappedResponse = PASS;
      try {
        // Read whole for a tap or a transform only: the adapter maps just what it inspects.
        if (inspected) mapped = route.adapter.mapResponse(status, proxyRes.headers, body, ctx);
      } catch (error) {
        fail(req, res, error);
        return;
      }
      if (mapped.kind === 'problem') {
        fail(req, res, mapped.error);
        return;
      }
      if (mapped.kind === 'replay') {
        replay(req, res, exchange, mapped);
        return;
      }
      let out = mapped.kind === 'replace' ? mapped.body : body;
      let headers = responseHeaders(proxyRes, ctx, true, route);
      const taps = ctx.responseTaps;
      const transforms = ctx.responseTransforms;
      if (taps !== undefined || transforms !== undefined) {
        const captured: CapturedResponse = { status, headers: headerRecord(headers), body: out };
        // Taps keep the answer as the upstream gave it; transforms shape what this caller gets.
        if (taps !== undefined) for (const tap of taps) tap(captured, ctx);
        if (transforms !== undefined) {
          let sent: CapturedResponse;
          try {
            sent = transformCaptured(captured, ctx);
          } catch (error) {
            renderProblem(res, toGatewayError(error, logger, ctx), ctx);
            return;
          }
          if (sent !== captured) {
            out = sent.body;
            headers = [...headerPairs(sent.headers), 'x-request-id', ctx.requestId];
          }
        }
      }
      headers.push('content-length', String(out.length));
      res.writeHead(status, proxyRes.statusMessage, headers);
      res.end(out);
    });
  }

  /**
   * Sends the request once more after the adapter renewed its credential, when that cannot
   * do a write twice: RFC 9110 idempotent methods only, and only when the body is at hand
   * (buffered, or there is none) rather than already streamed away.
   */
  function replay(req: ExchangeRequest, res: ServerResponse, exchange: Exchange, mapped: { ready: Promise<unknown>; otherwise: GatewayError }): void {
    const { ctx, route } = exchange;
    if (exchange.replayed || !IDEMPOTENT.has(req.method ?? '') || !bodyAtHand(ctx)) {
      // Answered once the renewal settled, so a client that retries at once gets the new credential.
      mapped.ready.then(
        () => fail(req, res, mapped.otherwise),
        (error: unknown) => fail(req, res, error),
      );
      return;
    }
    exchange.replayed = true;
    mapped.ready
      .then(() => route.adapter.prepare(ctx, req.method ?? 'GET'))
      .then(
        () => {
          if (exchange.abandoned || res.writableEnded) return;
          req.url = ctx.upstreamPath;
          dispatch(req, res, exchange);
        },
        (error: unknown) => fail(req, res, error),
      );
  }

  function onError(error: Error, req: IncomingMessage, res: ServerResponse | Socket): void {
    const exchange = (req as ExchangeRequest)[EXCHANGE];
    if (exchange === undefined) return;
    settle(exchange);
    report(exchange, error);
    if (exchange.abandoned || !('writeHead' in res)) return;
    if (mayRetry(req as ExchangeRequest, res, exchange)) {
      retry(req as ExchangeRequest, res, exchange, exchange.timedOut !== undefined ? `${exchange.timedOut}-timeout` : ((error as NodeJS.ErrnoException).code ?? 'error'));
      return;
    }
    const code = exchange.timedOut !== undefined ? 'upstream.timeout' : 'upstream.unavailable';
    const detail =
      exchange.timedOut === 'connect'
        ? `The upstream did not accept a connection within ${exchange.route.connectTimeoutMs} ms.`
        : exchange.timedOut === 'response'
          ? `The upstream did not answer within ${exchange.route.responseTimeoutMs} ms.`
          : 'The upstream could not be reached.';
    fail(req as ExchangeRequest, res, new GatewayError(code, detail, { cause: error }));
  }

  // Connect and response deadlines are enforced by one sweep over the exchanges in flight
  // rather than a timer per request and socket (socket timeouts re-arm on every read and
  // write, and flip between the agent's and the route's value on every reuse). Deadlines
  // hold to within SWEEP_INTERVAL_MS.
  const inflight = new InflightList();
  const sweep = setInterval(function enforceDeadlines() {
    const now = performance.now();
    for (let exchange = inflight.head, next; exchange !== undefined; exchange = next) {
      next = exchange.next;
      const elapsed = now - exchange.sentAt;
      const socket = exchange.proxyReq?.socket as Socket | null | undefined;
      const connecting = socket === undefined || socket === null || socket.connecting;
      if (connecting && elapsed > exchange.route.connectTimeoutMs) exchange.timedOut = 'connect';
      else if (elapsed > exchange.route.responseTimeoutMs) exchange.timedOut = 'response';
      else continue;
      settle(exchange);
      if (exchange.proxyReq !== undefined) exchange.proxyReq.destroy(new Error(`${exchange.timedOut} timeout`));
      else onTimeoutBeforeSocket(exchange);
    }
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  function settle(exchange: Exchange): void {
    if (exchange.settled) return;
    exchange.settled = true;
    inflight.delete(exchange);
  }

  /** Still queued for a socket at the agent: answer now; the request is dropped when it gets one. */
  function onTimeoutBeforeSocket(exchange: Exchange): void {
    exchange.abandoned = true;
    settle(exchange);
    report(exchange, new Error('connect timeout'));
    answerFailure(exchange, exchange.res, new GatewayError('upstream.timeout', `No connection to the upstream within ${exchange.route.connectTimeoutMs} ms.`));
  }

  const gatehousePlugin: Plugin = (proxyServer) => {
    // http-proxy sends the body by `(options.buffer ?? req).pipe(proxyReq)`, an option hpm
    // offers no per-request way to set: a buffered body (read for an adapter or a policy) is
    // forwarded as the exact bytes read, and every body is sent without a stream pipe.
    const web = proxyServer.web.bind(proxyServer);
    proxyServer.web = function webWithBody(req, res, opts, ...rest) {
      const exchange = (req as ExchangeRequest)[EXCHANGE];
      if (exchange !== undefined && opts !== undefined) {
        // The target, pre-parsed per route, is set here rather than by hpm's `router` option,
        // which costs each request two more awaits.
        opts.target = exchange.route.target as unknown as string;
        const body = exchange.ctx.body;
        opts.buffer = (body !== undefined ? new BufferedBody(body) : exchange.bodiless ? NO_BODY : new StreamedBody(req)) as unknown as Stream;
      }
      // hpm calls with three arguments; spreading an empty rest cost a CallWithArrayLike per request.
      return rest.length === 0 ? web(req, res, opts) : web(req, res, opts, ...(rest as []));
    } as typeof proxyServer.web;
    proxyServer.on('proxyReq', onProxyReq);
    proxyServer.on('proxyRes', onProxyRes);
    proxyServer.on('error', onError);
  };

  const middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
    // Replaced per request by the route's own target (`webWithBody`); never contacted.
    target: 'http://gatehouse.invalid',
    changeOrigin: true,
    selfHandleResponse: true,
    ejectPlugins: true,
    plugins: [gatehousePlugin],
    agent,
    // `toProxy` makes http-proxy use req.url as the outgoing path as is: it is already the
    // validated upstream path, so the per-request url.parse is saved.
    toProxy: true,
    xfwd: false,
  });

  return {
    agent,
    forward(req, res, ctx, route) {
      const framing = req.headers;
      const exchange: Exchange = {
        ctx,
        res,
        route,
        sentAt: 0,
        proxyReq: undefined,
        abandoned: false,
        timedOut: undefined,
        // Not in flight until `send` adds it.
        settled: true,
        bodiless: framing['transfer-encoding'] === undefined && (framing['content-length'] === undefined || framing['content-length'] === '0'),
        replayed: false,
        attempt: 0,
        backoff: undefined,
        outcome: undefined,
        prev: undefined,
        next: undefined,
      };
      (req as ExchangeRequest)[EXCHANGE] = exchange;
      req.url = ctx.upstreamPath;
      // A transform reads the answer's JSON: ask for it uncompressed (RFC 9110 §12.5.3).
      if (ctx.responseTransforms !== undefined) ctx.upstreamHeaders['accept-encoding'] = 'identity';
      req.headers = ctx.upstreamHeaders as IncomingMessage['headers'];
      if (ctx.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
        req.headers['content-length'] = String(ctx.body.length);
        delete req.headers['transfer-encoding'];
      }
      dispatch(req as ExchangeRequest, res, exchange);
    },
    circuitFor,
    release(req, res) {
      const exchange = (req as ExchangeRequest)[EXCHANGE];
      if (exchange === undefined) return;
      settle(exchange);
      // A client leaving says nothing about the upstream's health; the breaker must still hear.
      report(exchange, undefined);
      if (res.writableFinished) {
        // A keep-alive connection keeps its last request object until the next one arrives:
        // unhook the exchange so its whole graph is garbage now, not a scavenge survivor.
        (req as ExchangeRequest)[EXCHANGE] = undefined;
        return;
      }
      // Abandoned: stays linked, so a socket assigned later still finds it and is destroyed.
      exchange.abandoned = true;
      exchange.proxyReq?.destroy();
    },
    close() {
      clearInterval(sweep);
      agent.destroy();
    },
  };
}
