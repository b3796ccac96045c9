/**
 * @module The data plane: `createGateway(...)` returns `{ app, statusApp, close, … }`. Each
 * request captures the snapshot current at its start and finishes on it; a new snapshot is
 * compiled off to the side and swapped in one assignment; a bad one is rejected whole (logged,
 * counted) and the last good one keeps serving.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RequestContext, UpstreamKind } from '../contracts/index.js';
import {
  ALWAYS_ON_POLICIES,
  BUILT_IN_POLICIES,
  cachePurgeRegistry,
  createPolicyRegistry,
  createSnapshotScope,
  GatewayError,
  runPipeline,
  SnapshotCompileError,
  type AccessLog,
  type AnyPolicyDefinition,
  type Clock,
  type EndHook,
  type Logger,
  type RedisClient,
  type PolicyHandler,
} from '../policies/index.js';
import { handleCachePurge } from './admin.js';
import { createDeliverer, type Deliverer } from './async/deliverer.js';
import { ASYNC_STATUS_PREFIX, createAsyncRoutes, type AsyncRoutes } from './async/routes.js';
import type { AsyncStore } from './async/store.js';
import { readBody } from './body.js';
import { createGatewayMetrics, createRouteMetrics, observeConsumer, policyMetrics, UNMATCHED, type GatewayMetrics } from './metrics.js';
import { renderProblem, toGatewayError } from './problem.js';
import { createForwarder, type Forwarder } from './proxy.js';
import type { CompiledVersion } from './router.js';
import { compileSnapshot, type CompiledSnapshot, type CompileEnv } from './snapshot/compile.js';
import type { ApplyResult, SnapshotSource } from './snapshot/source.js';
import { formatTraceparent, IdSource, parseTraceparent } from './trace.js';
import { BUILT_IN_ADAPTERS, type AnyAdapterFactory } from './upstreams/index.js';
import type { Agent } from 'node:http';

export interface GatewayOptions {
  snapshotSource: SnapshotSource;
  logger: Logger;
  accessLog: AccessLog;
  /** Looks up a secret by the name a snapshot references (an env var name in production). */
  resolveSecret: (name: string) => string | undefined;
  clock?: Clock;
  metrics?: GatewayMetrics;
  policies?: readonly AnyPolicyDefinition[];
  adapters?: ReadonlyMap<UpstreamKind, AnyAdapterFactory>;
  agent?: Agent;
  fetch?: typeof fetch;
  /** Largest request body buffered for adapters and policies that read it (default 1 MiB). */
  maxBufferedBodyBytes?: number;
  /** Shared store for policies (`REDIS_URL`); absent: the embedded memory stores. Not closed by the gateway. */
  redis?: RedisClient;
  /**
   * Bearer token of the admin routes on the status port (`POST /admin/cache/purge`);
   * absent or empty: those routes are disabled (404).
   */
  adminToken?: string;
  /** Who admin actions are recorded as (the admin token's label). Default `gateway-admin`. */
  adminLabel?: string;
  /**
   * The durable queue of `async-delivery` (file or Redis store, owned and closed by the caller);
   * absent: snapshots binding that policy are refused. The gateway runs its deliverer.
   */
  asyncStore?: AsyncStore;
  /** Async deliveries in flight at once on this node. Default 8. */
  asyncConcurrency?: number;
}

export interface Gateway {
  /** The request listener for the traffic port. */
  readonly app: RequestListener;
  /** `/health/live`, `/health/ready`, `/metrics`, and `/admin/cache/purge` when an admin token is set, for the status port. */
  readonly statusApp: RequestListener;
  readonly metrics: GatewayMetrics;
  readonly events: EventEmitter<{ applied: [hash: string]; rejected: [error: string] }>;
  ready(): boolean;
  currentHash(): string | undefined;
  /** Compiles and applies snapshot text (what sources call). */
  apply(text: string, origin: string): Promise<ApplyResult>;
  /** Resolves once a snapshot (optionally this hash) is applied. */
  waitForSnapshot(hash?: string): Promise<string>;
  close(): Promise<void>;
}

/** Per-request state the core keeps beside the context: which snapshot and route it runs on. */
interface RequestState {
  readonly snapshot: CompiledSnapshot;
  version: CompiledVersion | undefined;
}

const systemClock: Clock = { now: () => Date.now() };

/**
 * @param options.clock defaults to `Date.now`
 * @param options.maxBufferedBodyBytes defaults to 1 MiB
 * @example
 * const gateway = createGateway({
 *   snapshotSource: createFileSnapshotSource({ path: 'snapshot.json', logger }),
 *   logger, accessLog, resolveSecret: (name) => process.env[name],
 * });
 * http.createServer(gateway.app).listen(8080);
 * http.createServer(gateway.statusApp).listen(8081);
 */
export function createGateway(options: GatewayOptions): Gateway {
  const { logger, accessLog } = options;
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? createGatewayMetrics();
  const maxBody = options.maxBufferedBodyBytes ?? 1024 * 1024;
  const ids = new IdSource();
  const forwarder: Forwarder = createForwarder({ logger, metrics, ...(options.agent ? { agent: options.agent } : {}) });
  const events = new EventEmitter<{ applied: [hash: string]; rejected: [error: string] }>();
  const compileEnv: CompileEnv = {
    registry: createPolicyRegistry(options.policies ?? BUILT_IN_POLICIES),
    adapters: options.adapters ?? BUILT_IN_ADAPTERS,
    policyDeps: {
      logger,
      clock,
      accessLog,
      fetch: options.fetch ?? fetch,
      metrics: policyMetrics(metrics),
      lasting: createSnapshotScope(),
      redis: options.redis,
      ...(options.asyncStore === undefined ? {} : { asyncQueue: options.asyncStore }),
      resolveSecret: options.resolveSecret,
    },
    metrics,
    logger,
    maxBufferedBodyBytes: maxBody,
    circuitFor: forwarder.circuitFor,
    resolveSecret: options.resolveSecret,
    fetch: options.fetch ?? fetch,
    always: ALWAYS_ON_POLICIES,
  };

  let current: CompiledSnapshot | undefined;
  const unmatchedMetrics = createRouteMetrics(metrics, UNMATCHED, UNMATCHED);
  let appliedAt = 0;

  async function apply(text: string, origin: string): Promise<ApplyResult> {
    let compiled: CompiledSnapshot;
    try {
      compiled = compileSnapshot(text, compileEnv);
    } catch (error) {
      const problems = error instanceof SnapshotCompileError ? error.problems : [(error as Error).message];
      metrics.snapshotRejections.inc();
      logger.error('snapshot rejected; the previous snapshot keeps serving', { origin, problems, current: current?.hash });
      const message = problems.join('; ');
      events.emit('rejected', message);
      return { applied: false, error: message };
    }
    if (current !== undefined) metrics.snapshotInfo.labels(current.hash).set(0);
    current = compiled; // the swap: requests already running keep the snapshot they captured
    appliedAt = clock.now();
    metrics.snapshotInfo.labels(compiled.hash).set(1);
    metrics.snapshotAppliedAt.set(appliedAt / 1000);
    metrics.snapshotApplies.inc();
    logger.info('snapshot applied', { origin, hash: compiled.hash, generatedAt: compiled.generatedAt });
    events.emit('applied', compiled.hash);
    return { applied: true, hash: compiled.hash };
  }

  function newContext(req: IncomingMessage, snapshot: CompiledSnapshot): RequestContext {
    const header = req.headers.traceparent as string | undefined;
    // Most callers send no traceparent: start the trace without parsing or allocating.
    const trace = header === undefined ? undefined : parseTraceparent(header, ids);
    const spanId = ids.spanId();
    return {
      requestId: spanId,
      traceId: trace === undefined ? ids.traceId() : trace.traceId,
      spanId,
      traceFlags: trace === undefined ? '01' : trace.flags,
      parentSpanId: trace?.parentId,
      receivedAt: clock.now(),
      startedAt: performance.now(),
      path: req.url ?? '/',
      snapshotHash: snapshot.hash,
      clientAddress: req.socket.remoteAddress ?? '',
      upstreamPath: '/',
      upstreamHeaders: {},
      api: undefined,
      version: undefined,
      operationId: undefined,
      consumer: undefined,
      clientId: undefined,
      subject: undefined,
      scopes: undefined,
      operation: undefined,
      body: undefined,
      json: undefined,
      decision: 'allow',
      upstreamStatus: undefined,
      upstreamLatencyMs: undefined,
      responseTaps: undefined,
      responseTransforms: undefined,
      fallback: undefined,
      responseHeaders: undefined,
    };
  }

  function runEndHooks(hooks: readonly EndHook[], req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    for (let i = 0; i < hooks.length; i++) {
      try {
        hooks[i]!(req, res, ctx);
      } catch (error) {
        logger.error('end hook failed', { traceId: ctx.traceId, error: (error as Error).message });
      }
    }
  }

  function fail(res: ServerResponse, ctx: RequestContext, error: unknown): void {
    renderProblem(res, toGatewayError(error, logger, ctx), ctx);
  }

  /** Adds trace context for the upstream, then hands over to the proxy. */
  function forward(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, route: CompiledVersion): void | Promise<void> {
    const headers = ctx.upstreamHeaders;
    // Our span id is both the parent id the upstream sees and the X-Request-Id the client sees,
    // so the two correlate without another header.
    headers.traceparent = formatTraceparent(ctx.traceId, ctx.spanId, ctx.traceFlags);
    // W3C Trace Context §3.3: tracestate travels only with the traceparent it belongs to.
    if (ctx.parentSpanId === undefined && headers.tracestate !== undefined) delete headers.tracestate;
    const prepared = route.adapter.prepare(ctx, req.method ?? 'GET');
    if (prepared === undefined) {
      forwarder.forward(req, res, ctx, route);
      return undefined;
    }
    return prepared.then(() => {
      if (req.socket.destroyed) return;
      forwarder.forward(req, res, ctx, route);
    });
  }

  /** Terminal of the gateway stage: routing, then the version's own pipeline, proxy last. */
  function route(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, state: RequestState): void | Promise<void> {
    const { snapshot } = state;
    const url = req.url ?? '/';
    const match = snapshot.router.match(url);
    if (match === undefined) {
      const slug = url.split('/')[1] ?? '';
      throw new GatewayError(
        'route.not_found',
        snapshot.router.hasApi(slug) ? `API "${slug}" has no published version at this path.` : 'No API is published at this path.',
      );
    }
    const { version, rest } = match;
    state.version = version;
    ctx.api = version.api;
    ctx.version = version.version;
    if (version.status === 'retired') {
      throw new GatewayError('version.retired', `Version ${version.version} of "${version.api}" is retired.`, version.lifecycleHeaders === undefined ? {} : { headers: { ...version.lifecycleHeaders } });
    }
    // A copy: policies add their own headers to it (RateLimit, …).
    if (version.lifecycleHeaders !== undefined) ctx.responseHeaders = { ...version.lifecycleHeaders };
    if (asyncRoutes !== undefined && rest.startsWith(ASYNC_STATUS_PREFIX)) {
      // Reserved below every version: a queued request's status, for the caller who made it.
      ctx.upstreamPath = rest;
      const routes = asyncRoutes;
      return runPipeline(version.identityHandlers, (rq, rs, cx) => routes.status(rq, rs, cx, version.api, version.major, rest), req, res, ctx);
    }
    const method = req.method ?? 'GET';
    const operation = version.matchOperation(method, rest);
    if (operation.kind === 'not_found') throw new GatewayError('route.not_found', `"${version.api}" v${version.major} declares no operation at this path.`);
    if (operation.kind === 'method_not_allowed') {
      throw new GatewayError('route.method_not_allowed', `${method} is not declared for this path.`, { headers: { allow: operation.allow } });
    }
    ctx.operationId = operation.id;
    ctx.upstreamPath = rest;
    const terminal = (rq: IncomingMessage, rs: ServerResponse, cx: RequestContext): void | Promise<void> => forward(rq, rs, cx, version);
    if (!version.needsBody || method === 'GET' || method === 'HEAD') {
      // Only policies read the operation: a route without any skips the extraction.
      if (version.handlers.length > 0) ctx.operation = version.adapter.extractOperation(method, rest, undefined);
      return runPipeline(version.handlers, terminal, req, res, ctx);
    }
    return readBody(req, version.bodyLimit(operation.id)).then((body) => {
      if (req.socket.destroyed) return undefined;
      ctx.body = body;
      if (body.length > 0 && /json/i.test(req.headers['content-type'] ?? '')) {
        try {
          ctx.json = JSON.parse(body.toString('utf8'));
        } catch {
          throw new GatewayError('request.malformed_body', 'The request body is not valid JSON.');
        }
      }
      ctx.operation = version.adapter.extractOperation(method, rest, ctx.json);
      return runPipeline(version.handlers, terminal, req, res, ctx);
    });
  }

  const app: RequestListener = function gatehouse(req, res) {
    const snapshot = current;
    if (snapshot === undefined) {
      const ctx = { traceId: parseTraceparent(req.headers.traceparent as string | undefined, ids).traceId, requestId: ids.spanId(), decision: 'allow' } as RequestContext;
      renderProblem(res, new GatewayError('gateway.not_ready', 'No snapshot applied yet.', { headers: { 'retry-after': '1' } }), ctx);
      return;
    }
    const ctx = newContext(req, snapshot);
    const state: RequestState = { snapshot, version: undefined };
    // One listener per request does everything that happens at the end.
    res.on('close', function endExchange() {
      forwarder.release(req, res);
      const version = state.version;
      const upstream = ctx.upstreamLatencyMs === undefined ? undefined : ctx.upstreamLatencyMs / 1000;
      const status = res.headersSent ? res.statusCode : 499;
      (version?.metrics ?? unmatchedMetrics).observe(status, (performance.now() - ctx.startedAt) / 1000, upstream);
      observeConsumer(metrics, ctx.api ?? UNMATCHED, ctx.consumer?.id, status);
      if (ctx.decision !== 'allow') metrics.decisions.labels(ctx.decision).inc();
      if (version !== undefined) runEndHooks(version.endHooks, req, res, ctx);
      runEndHooks(snapshot.gatewayEndHooks, req, res, ctx);
      // The proxy's own listeners keep `res` reachable from the connection's last request
      // until the next one: unhooking this closure lets the context go now.
      res.off('close', endExchange);
    });
    const terminal = (rq: IncomingMessage, rs: ServerResponse, cx: RequestContext): void | Promise<void> => route(rq, rs, cx, state);
    try {
      const pending = runPipeline(snapshot.gatewayHandlers as PolicyHandler[], terminal, req, res, ctx);
      if (pending !== undefined) pending.catch((error: unknown) => fail(res, ctx, error));
    } catch (error) {
      fail(res, ctx, error);
    }
  };

  const statusApp: RequestListener = function gatehouseStatus(req, res) {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health/live') {
      sendJson(res, 200, { status: 'live' });
    } else if (path === '/health/ready') {
      const body = current === undefined ? { status: 'not_ready' } : { status: 'ready', snapshot: current.hash, appliedAt: new Date(appliedAt).toISOString() };
      sendJson(res, current === undefined ? 503 : 200, body);
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (error: unknown) => {
          logger.error('metrics collection failed', { error: (error as Error).message });
          sendJson(res, 500, { status: 'error' });
        },
      );
    } else if (asyncRoutes !== undefined && path?.startsWith('/admin/async/') === true) {
      asyncRoutes.admin(req, res);
    } else if (path === '/admin/cache/purge') {
      // The cache policy registers its stores in the gateway-lifetime scope it was given.
      handleCachePurge(req, res, { token: options.adminToken, registry: cachePurgeRegistry(compileEnv.policyDeps.lasting), logger });
    } else {
      sendJson(res, 404, { status: 'not_found' });
    }
  };

  const asyncStore = options.asyncStore;
  const asyncRoutes: AsyncRoutes | undefined =
    asyncStore === undefined
      ? undefined
      : createAsyncRoutes({ store: asyncStore, logger, accessLog, adminToken: options.adminToken, adminLabel: options.adminLabel ?? 'gateway-admin', snapshotHash: () => current?.hash ?? '', clock });
  const deliverer: Deliverer | undefined =
    asyncStore === undefined
      ? undefined
      : createDeliverer({
          store: asyncStore,
          // Each delivery goes through the snapshot current when it is attempted.
          resolve(api, major) {
            const snapshot = current;
            if (snapshot === undefined) return 'not_ready';
            const found = snapshot.router.match(`/${api}/v${major}/`);
            if (found === undefined || found.version.status === 'retired') return undefined;
            return { version: found.version, snapshotHash: snapshot.hash };
          },
          logger,
          accessLog,
          metrics,
          clock,
          ...(options.asyncConcurrency === undefined ? {} : { concurrency: options.asyncConcurrency }),
        });

  options.snapshotSource.start(apply);
  logger.info('gateway waiting for its first snapshot', { source: options.snapshotSource.describe() });

  return {
    app,
    statusApp,
    metrics,
    events,
    ready: () => current !== undefined,
    currentHash: () => current?.hash,
    apply,
    waitForSnapshot(hash) {
      if (current !== undefined && (hash === undefined || current.hash === hash)) return Promise.resolve(current.hash);
      return new Promise((resolve) => {
        const onApplied = (applied: string): void => {
          if (hash !== undefined && applied !== hash) return;
          events.off('applied', onApplied);
          resolve(applied);
        };
        events.on('applied', onApplied);
      });
    },
    async close() {
      await options.snapshotSource.close();
      await deliverer?.close();
      forwarder.close();
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
