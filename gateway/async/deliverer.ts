/**
 * @module The deliverer each gateway node runs over its async queue, independent of snapshot
 * swaps: it takes due requests (the head of each ordering key, bounded concurrency), and for
 * each attempt (1) records "attempt started" durably, (2) when an earlier attempt's outcome is
 * unknown, runs the operation's probe first (found: delivered, nothing sent), (3) sends through
 * the current snapshot's adapter for the API major (which injects the gateway's upstream
 * credential and maps upstream errors) with `Idempotency-Key` / `X-Gatehouse-Transaction` set to
 * the request's transaction id, over a keep-alive agent with connect and response deadlines,
 * (4) records the outcome: delivered; failed, retried after exponential backoff with jitter (network
 * errors, 5xx, 408, 409, 425, 429); or dead (any other 4xx, or attempts exhausted). Deliveries
 * and dead letters are access records (`async.delivered`, `async.dead_letter`).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { Counter } from 'prom-client';
import { equalJitterBackoff, type RequestContext } from '../../contracts/index.js';
import { GatewayError, type AccessLog, type AsyncError, type AsyncRecord, type AsyncState, type AsyncUpstreamAnswer, type Clock, type Logger } from '../../policies/index.js';
import { readAtScrape, type GatewayMetrics } from '../metrics.js';
import type { CompiledVersion, ProxyTarget } from '../router.js';
import { formatTraceparent, IdSource } from '../trace.js';
import { asyncAccessRecord } from './records.js';
import type { AsyncStore, WorkItem } from './store.js';

/** Where a request of an API major goes now. */
export interface AsyncRoute {
  version: CompiledVersion;
  snapshotHash: string;
}

export interface DelivererOptions {
  store: AsyncStore;
  /** The current snapshot's version for an API major; `not_ready` before any snapshot; undefined when the major is gone or retired. */
  resolve(api: string, major: number): AsyncRoute | 'not_ready' | undefined;
  logger: Logger;
  accessLog: AccessLog;
  metrics: GatewayMetrics;
  clock?: Clock;
  /** Attempts in flight at once on this node. Default 8. */
  concurrency?: number;
}

export interface Deliverer {
  /** Stops taking work, lets attempts in flight finish (up to `graceMs`, default 5000), aborts the rest. */
  close(graceMs?: number): Promise<void>;
}

/** Statuses worth another attempt; any other 4xx is the upstream saying no. */
export function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 409 || status === 425 || status === 429;
}

/** RFC 9110 §10.2.3: seconds or an HTTP date. */
function retryAfterMs(value: string | string[] | undefined, now: number): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return 0;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? 0 : Math.max(0, at - now);
}

/** A gateway problem code for an upstream status an adapter passed through unmapped. */
function codeForStatus(status: number): string {
  if (status === 401 || status === 407) return 'upstream.auth_failed';
  if (status === 403) return 'upstream.forbidden';
  if (status === 404 || status === 410) return 'upstream.not_found';
  if (status === 408 || status === 504) return 'upstream.timeout';
  if (status === 409) return 'upstream.conflict';
  if (status === 429) return 'upstream.rate_limited';
  if (status >= 500) return 'upstream.error';
  return 'upstream.validation_failed';
}

/** Added to connect + response timeouts for an attempt's deadline, which a probe of it waits out. */
const SEND_MARGIN_MS = 1000;
/** Largest answer read whole (an adapter maps errors from it); larger ones are cut off and kept as status only. */
const READ_CAP = 1024 * 1024;

type Sent =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body: Buffer; truncated: boolean; latencyMs: number }
  | { kind: 'error'; timedOut: 'connect' | 'response' | undefined; written: boolean; error: Error; latencyMs: number };

/** What an attempt came to. */
type Outcome =
  | { kind: 'delivered'; answer: AsyncUpstreamAnswer; upstreamStatus: number; latencyMs: number }
  | { kind: 'failed'; error: AsyncError; retryable: boolean; inDoubt: boolean; waitMs: number; upstreamStatus: number | null; latencyMs: number | null };

/**
 * @param options.concurrency defaults to 8
 * @example
 * const deliverer = createDeliverer({ store, resolve: (api, major) => routeFor(api, major), logger, accessLog, metrics });
 * await deliverer.close();
 */
export function createDeliverer(options: DelivererOptions): Deliverer {
  const { store, logger, accessLog, metrics } = options;
  const clock = options.clock ?? { now: () => Date.now() };
  const concurrency = options.concurrency ?? 8;
  const ids = new IdSource();
  // Idle sockets are dropped after 4 s, before typical upstream keep-alive timeouts (5 s).
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: concurrency * 2, maxFreeSockets: concurrency, timeout: 4000, scheduling: 'lifo' });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: concurrency * 2, maxFreeSockets: concurrency, timeout: 4000, scheduling: 'lifo' });
  const aborter = new AbortController();
  const deliveries = deliveryCounter(metrics);
  readAtScrape(metrics, 'async_queue_depth', 'Async requests accepted and not yet delivered (dead letters excluded).', 'gauge', () => store.depth().queued);
  readAtScrape(metrics, 'async_dead_letters', 'Async requests in the dead-letter list.', 'gauge', () => store.depth().dead);

  let inFlight = 0;
  const running = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let scheduled = false;
  let closed = false;

  function wake(): void {
    if (scheduled || closed) return;
    scheduled = true;
    setImmediate(pump);
  }

  function pump(): void {
    scheduled = false;
    if (closed) return;
    const now = clock.now();
    if (inFlight < concurrency) {
      for (const item of store.take(now, concurrency - inFlight)) {
        inFlight++;
        const run = deliver(item)
          .catch((error: unknown) => {
            logger.error('async delivery failed unexpectedly; retried later', { id: item.record.id, error: (error as Error).message });
            store.release(item, clock.now() + 5000);
          })
          .finally(() => {
            inFlight--;
            running.delete(run);
            wake();
          });
        running.add(run);
      }
    }
    // The next due time, checked at least every second (other nodes' admin actions, clock steps).
    const due = store.nextDueAt();
    const at = Math.min(due ?? Infinity, now + 1000);
    if (timer !== undefined && at >= timerAt) return;
    if (timer !== undefined) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      pump();
    }, Math.max(0, at - now));
    timer.unref();
  }

  /** Sends one request (or probe) and reads the answer; never throws, never leaves a socket behind. */
  function send(target: ProxyTarget, method: string, path: string, headers: Record<string, string | string[]>, body: Buffer | undefined, route: CompiledVersion): Promise<Sent> {
    return new Promise((resolve) => {
      const started = performance.now();
      let done = false;
      let written = false;
      let timedOut: 'connect' | 'response' | undefined;
      const https = target.protocol === 'https:';
      const request = (https ? httpsRequest : httpRequest)({
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        path: target.path + path,
        method,
        headers: { ...headers, host: target.host },
        agent: https ? httpsAgent : httpAgent,
      });
      const finish = (result: Sent): void => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        aborter.signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const fail = (error: Error): void => finish({ kind: 'error', timedOut, written, error, latencyMs: performance.now() - started });
      let deadline = setTimeout(() => {
        timedOut = 'connect';
        request.destroy(new Error('connect timeout'));
      }, route.connectTimeoutMs);
      const armResponseDeadline = (): void => {
        clearTimeout(deadline);
        deadline = setTimeout(() => {
          timedOut = 'response';
          request.destroy(new Error('response timeout'));
        }, route.responseTimeoutMs);
      };
      const onAbort = (): void => {
        request.destroy(new Error('the gateway is shutting down'));
      };
      aborter.signal.addEventListener('abort', onAbort, { once: true });
      request.on('socket', (socket) => {
        if (socket.connecting) socket.once('connect', armResponseDeadline);
        else armResponseDeadline();
      });
      request.on('finish', () => (written = true));
      request.on('error', fail);
      request.on('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= READ_CAP) {
            chunks.push(chunk);
            return;
          }
          // Too large to keep: the status says enough; the socket goes rather than be drained.
          response.destroy();
          finish({ kind: 'response', status: response.statusCode ?? 502, headers: response.headers, body: Buffer.alloc(0), truncated: true, latencyMs: performance.now() - started });
        });
        response.on('end', () => {
          finish({ kind: 'response', status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks), truncated: false, latencyMs: performance.now() - started });
        });
        response.on('error', fail);
        response.on('close', () => {
          if (!response.complete) fail(new Error('the upstream closed the connection mid-answer'));
        });
      });
      if (aborter.signal.aborted) onAbort();
      request.end(body);
    });
  }

  /** A request context for the adapter, as the proxy would build it. */
  function contextFor(record: AsyncRecord, route: AsyncRoute, path: string, headers: Record<string, string | string[]>, body: Buffer | undefined): RequestContext {
    const spanId = ids.spanId();
    let json: unknown;
    if (body !== undefined && /json/i.test(String(headers['content-type'] ?? ''))) {
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = undefined;
      }
    }
    return {
      requestId: spanId,
      traceId: record.traceId,
      spanId,
      traceFlags: '01',
      parentSpanId: undefined,
      receivedAt: clock.now(),
      startedAt: performance.now(),
      path: `/${record.api}/v${record.major}${path}`,
      snapshotHash: route.snapshotHash,
      clientAddress: '',
      upstreamPath: path,
      upstreamHeaders: { ...headers, traceparent: formatTraceparent(record.traceId, spanId, '01') },
      api: record.api,
      version: route.version.version,
      operationId: record.operationId,
      consumer: { id: record.consumer, name: record.consumer },
      clientId: undefined,
      subject: record.subject ?? undefined,
      scopes: undefined,
      operation: undefined,
      body,
      json,
      decision: 'allow',
      upstreamStatus: undefined,
      upstreamLatencyMs: undefined,
      responseTaps: undefined,
      responseTransforms: undefined,
      fallback: undefined,
      responseHeaders: undefined,
    };
  }

  /** Prepares (credential), sends, and reads the answer through the version's adapter. */
  async function attempt(record: AsyncRecord, route: AsyncRoute, method: string, path: string, headers: Record<string, string>, body: Buffer | undefined, now: number): Promise<Outcome> {
    const ctx = contextFor(record, route, path, headers, body);
    const { adapter, target } = route.version;
    try {
      await adapter.prepare(ctx, method);
    } catch (error) {
      return failure(error instanceof GatewayError ? error : new GatewayError('gateway.internal', 'The upstream adapter failed to prepare the request.', { cause: error }), false, null, null);
    }
    const out = ctx.body;
    const sendHeaders = ctx.upstreamHeaders;
    if (out !== undefined && method !== 'GET' && method !== 'HEAD') {
      sendHeaders['content-length'] = String(out.length);
      delete sendHeaders['transfer-encoding'];
    }
    const sent = await send(target, method, path, sendHeaders, method === 'GET' || method === 'HEAD' ? undefined : out, route.version);
    if (sent.kind === 'error') {
      const code = sent.timedOut !== undefined ? 'upstream.timeout' : 'upstream.unavailable';
      const detail =
        sent.timedOut === 'connect' ? `No connection within ${route.version.connectTimeoutMs} ms.` : sent.timedOut === 'response' ? `No answer within ${route.version.responseTimeoutMs} ms.` : `The upstream could not be reached (${(sent.error as NodeJS.ErrnoException).code ?? sent.error.message}).`;
      // Once the whole request was written, the upstream may have applied it.
      return { kind: 'failed', error: { code, status: code === 'upstream.timeout' ? 504 : 502, detail }, retryable: true, inDoubt: sent.written, waitMs: 0, upstreamStatus: null, latencyMs: sent.latencyMs };
    }
    const { status, headers: answerHeaders } = sent;
    // A 502/504 may come from a proxy in front of the upstream while the upstream went on.
    const inDoubt = status === 502 || status === 504;
    const waitMs = retryAfterMs(answerHeaders['retry-after'], now);
    let mapped: ReturnType<typeof adapter.mapResponse> = { kind: 'pass' };
    if (!sent.truncated && adapter.inspects(status, answerHeaders, ctx)) {
      try {
        mapped = adapter.mapResponse(status, answerHeaders, sent.body, ctx);
      } catch (error) {
        mapped = { kind: 'problem', error: error instanceof GatewayError ? error : new GatewayError('upstream.error', 'The upstream answer could not be read.', { cause: error }) };
      }
    }
    if (mapped.kind === 'problem') return failure(mapped.error, inDoubt, status, sent.latencyMs, waitMs);
    if (mapped.kind === 'replay') {
      // A stale gateway credential: once renewed, the next attempt carries the new one.
      await mapped.ready.catch(() => undefined);
      return failure(mapped.otherwise, false, status, sent.latencyMs, waitMs);
    }
    if (status >= 400) {
      return { kind: 'failed', error: { code: codeForStatus(status), status, detail: `The upstream answered ${status}.` }, retryable: retryableStatus(status), inDoubt, waitMs, upstreamStatus: status, latencyMs: sent.latencyMs };
    }
    const answerBody = mapped.kind === 'replace' ? mapped.body : sent.body;
    return { kind: 'delivered', answer: answerOf(status, answerHeaders, answerBody, sent.truncated, record.plan.maxStoredResponseBytes, 'response'), upstreamStatus: status, latencyMs: sent.latencyMs };
  }

  function failure(error: GatewayError, inDoubt: boolean, upstreamStatus: number | null, latencyMs: number | null, waitMs = 0): Outcome {
    const retryAfter = error.headers['retry-after'];
    return {
      kind: 'failed',
      error: { code: error.code, status: error.status, detail: error.message },
      retryable: retryableStatus(error.status),
      inDoubt,
      waitMs: Math.max(waitMs, retryAfter === undefined ? 0 : retryAfterMs(retryAfter, clock.now())),
      upstreamStatus,
      latencyMs,
    };
  }

  /** Found means applied: a non-empty list, a positive number, `true` or a non-empty object. */
  function found(answer: AsyncUpstreamAnswer): boolean {
    if (answer.encoding !== 'utf8' || answer.truncated) return false;
    let value: unknown;
    try {
      value = JSON.parse(answer.body);
    } catch {
      return false;
    }
    if (Array.isArray(value)) return value.length > 0;
    if (typeof value === 'number') return value > 0;
    if (typeof value === 'object' && value !== null) return Object.keys(value).length > 0;
    return value === true;
  }

  async function deliver(item: WorkItem): Promise<void> {
    const { record } = item;
    const state = item.state;
    const now = clock.now();
    const route = options.resolve(record.api, record.major);
    if (route === 'not_ready') {
      store.release(item, now + 1000);
      return;
    }
    // An earlier attempt may still be on its way (another node's, before it lost its lease): wait it out.
    if (state.inDoubt && state.sendDeadline !== null && now < state.sendDeadline) {
      store.release(item, state.sendDeadline);
      return;
    }
    const attemptNo = state.attempts + 1;
    const started = performance.now();
    const sendWindow = route === undefined ? 0 : route.version.connectTimeoutMs + route.version.responseTimeoutMs + SEND_MARGIN_MS;
    const marked: AsyncState = { ...state, attempts: attemptNo, sendingSince: now, sendDeadline: now + sendWindow, updatedAt: now };
    try {
      if (!(await store.begin(item, marked))) {
        logger.warn('async delivery: this node no longer owns the request; its new owner delivers it', { id: record.id });
        return;
      }
    } catch (error) {
      logger.error('async delivery: the attempt could not be recorded; nothing was sent', { id: record.id, error: (error as Error).message });
      store.release(item, now + 1000);
      return;
    }
    let outcome: Outcome;
    if (route === undefined) {
      // Gone from the snapshot (or retired): retried like an unavailable upstream, in case it comes back.
      outcome = { kind: 'failed', error: { code: 'route.not_found', status: 404, detail: `${record.api} v${record.major} is not published on this gateway.` }, retryable: true, inDoubt: state.inDoubt, waitMs: 0, upstreamStatus: null, latencyMs: null };
    } else {
      outcome = await attemptWithProbe(record, state, route, now);
    }
    await recordOutcome(item, marked, outcome, attemptNo, route, started);
  }

  async function attemptWithProbe(record: AsyncRecord, state: AsyncState, route: AsyncRoute, now: number): Promise<Outcome> {
    const probe = record.plan.probe;
    if (state.inDoubt && probe !== null) {
      const probeBody = probe.method === 'GET' || probe.body === null ? undefined : Buffer.from(JSON.stringify(probe.body));
      const probeHeaders: Record<string, string> = { ...record.headers, 'content-type': 'application/json' };
      const checked = await attempt(record, route, probe.method, probe.path, probeHeaders, probeBody, now);
      if (checked.kind === 'failed') {
        // Still unknown: the probe is tried again before anything is re-sent.
        return { ...checked, inDoubt: true, error: { ...checked.error, detail: `Probe: ${checked.error.detail}` } };
      }
      if (found(checked.answer)) {
        logger.info('async delivery: an attempt whose answer was lost had been applied (probe); not sent again', { id: record.id, txid: record.txid });
        deliveries(record, route.version.version, 'probe_found');
        return { ...checked, answer: { ...checked.answer, confirmedBy: 'probe' } };
      }
    } else if (state.inDoubt) {
      logger.warn('async delivery: sending again an attempt whose outcome is unknown, relying on the upstream honouring the transaction id', { id: record.id, txid: record.txid });
    }
    const headers: Record<string, string> = { ...record.headers, 'idempotency-key': record.txid, 'x-gatehouse-transaction': record.txid };
    return attempt(record, route, record.method, record.path, headers, record.body === null ? undefined : Buffer.from(record.body, 'base64'), now);
  }

  /** Records the outcome durably, then the access record and metrics. */
  /** `item` as the store handed it out (stores know their items by identity); `marked` its state during this attempt. */
  async function recordOutcome(item: WorkItem, marked: AsyncState, outcome: Outcome, attemptNo: number, route: AsyncRoute | undefined, started: number): Promise<void> {
    const { record } = item;
    const now = clock.now();
    const base = { ...marked, sendingSince: null, updatedAt: now };
    let next: AsyncState;
    if (outcome.kind === 'delivered') {
      next = { ...base, status: 'delivered', nextAttemptAt: null, sendDeadline: null, inDoubt: false, lastError: null, upstream: outcome.answer };
    } else if (outcome.retryable && attemptNo < record.plan.maxAttempts) {
      const delay = Math.max(outcome.waitMs, equalJitterBackoff(attemptNo, record.plan.baseDelayMs, record.plan.maxDelayMs));
      next = { ...base, status: 'failed', nextAttemptAt: now + delay, inDoubt: outcome.inDoubt, sendDeadline: outcome.inDoubt ? marked.sendDeadline : null, lastError: outcome.error };
    } else {
      next = { ...base, status: 'dead', nextAttemptAt: null, inDoubt: outcome.inDoubt, sendDeadline: outcome.inDoubt ? marked.sendDeadline : null, lastError: outcome.error };
    }
    let kept: boolean;
    try {
      kept = await store.settle(item, next);
    } catch (error) {
      // The outcome is lost with the write: treated as unknown (the store marks it in doubt).
      logger.error('async delivery: the outcome could not be recorded; the request is retried as in doubt', { id: record.id, error: (error as Error).message });
      store.release(item, now + 1000);
      return;
    }
    if (!kept) {
      logger.warn('async delivery: lost the request to another node before its outcome was recorded; the new owner resolves it', { id: record.id });
      return;
    }
    const version = route?.version.version ?? record.version;
    const snapshotHash = route?.snapshotHash ?? '';
    const latencyMs = performance.now() - started;
    if (next.status === 'delivered') {
      deliveries(record, version, 'delivered');
      const status = outcome.kind === 'delivered' ? outcome.upstreamStatus : 200;
      accessLog.write(asyncAccessRecord({ record, decision: 'async.delivered', at: now, requestId: ids.spanId(), status, latencyMs, upstreamLatencyMs: outcome.latencyMs, upstreamStatus: outcome.upstreamStatus, snapshotHash, version }));
    } else if (next.status === 'dead') {
      deliveries(record, version, 'dead');
      const error = next.lastError!;
      logger.warn('async delivery: request dead-lettered', { id: record.id, api: record.api, major: record.major, operation: record.operationId, consumer: record.consumer, attempts: attemptNo, code: error.code, status: error.status, traceId: record.traceId });
      accessLog.write(asyncAccessRecord({ record, decision: 'async.dead_letter', at: now, requestId: ids.spanId(), status: error.status, latencyMs, upstreamLatencyMs: outcome.latencyMs, upstreamStatus: outcome.upstreamStatus, snapshotHash, version }));
    } else {
      deliveries(record, version, 'retry');
    }
  }

  store.start(wake);
  wake();

  return {
    async close(graceMs = 5000) {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      if (running.size > 0) {
        let grace: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...running]), new Promise((resolve) => (grace = setTimeout(resolve, graceMs)))]);
        clearTimeout(grace);
      }
      // Whatever still runs is cut off: its "attempt started" mark makes it in doubt at the next start.
      aborter.abort();
      await Promise.allSettled([...running]);
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** The upstream's answer as the status resource shows it. */
function answerOf(status: number, headers: IncomingHttpHeaders, body: Buffer, truncated: boolean, maxBytes: number, confirmedBy: 'response' | 'probe'): AsyncUpstreamAnswer {
  const contentType = headers['content-type'] ?? null;
  if (truncated || body.length > maxBytes) return { status, contentType, body: '', encoding: 'utf8', truncated: true, confirmedBy };
  const text = contentType === null || /json|text|xml|x-www-form-urlencoded/i.test(contentType);
  return { status, contentType, body: body.toString(text ? 'utf8' : 'base64'), encoding: text ? 'utf8' : 'base64', truncated: false, confirmedBy };
}

/** `gatehouse_async_deliveries_total{api,version,outcome}`: one counter per registry (tests run several gateways). */
function deliveryCounter(metrics: GatewayMetrics): (record: AsyncRecord, version: string, outcome: string) => void {
  const name = 'gatehouse_async_deliveries_total';
  const existing = metrics.registry.getSingleMetric(name) as Counter<'api' | 'version' | 'outcome'> | undefined;
  const counter =
    existing ??
    new Counter({ name, help: 'Async delivery attempts by outcome: delivered, retry (failed, retried later), dead (dead-lettered), probe_found (a lost answer found applied).', labelNames: ['api', 'version', 'outcome'], registers: [metrics.registry] });
  return (record, version, outcome) => counter.labels(record.api, version, outcome).inc();
}
