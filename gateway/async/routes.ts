/**
 * @module The HTTP faces of the async queue. On the traffic port, a request's status resource
 * `GET /{api}/v{major}/_requests/{id}`, reached after the version's own authentication and
 * subscription policies and shown only to the consumer (and token subject) that made the
 * request — anyone else gets the same 404 as for an unknown id. On the status port, behind the
 * operator token: `GET /admin/async/dead-letters`, `GET /admin/async/requests/{id}`,
 * `POST /admin/async/dead-letters/{id}/replay` and `…/discard`, each action an audit log line
 * and an access record (`async.replayed`, `async.discarded`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../../contracts/index.js';
import { GatewayError, type AccessLog, type AsyncEntry, type AsyncUpstreamAnswer, type Clock, type Logger } from '../../policies/index.js';
import { adminContext, requireAdminToken } from '../admin.js';
import { renderProblem } from '../problem.js';
import { asyncAccessRecord } from './records.js';
import { ASYNC_ID_PATTERN, type AdminOutcome, type AsyncStore } from './store.js';

export interface AsyncRoutesOptions {
  store: AsyncStore;
  logger: Logger;
  accessLog: AccessLog;
  /** Absent or empty: the admin routes are off (404). */
  adminToken: string | undefined;
  /** Who an admin action is recorded as (the operator token's label). */
  adminLabel: string;
  /** Hash of the applied snapshot, for the access records of admin actions. */
  snapshotHash(): string;
  clock?: Clock;
}

export interface AsyncRoutes {
  /** The status resource; `ctx.consumer` was set by the version's identity policies. */
  status(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, api: string, major: number, rest: string): Promise<void> | void;
  /** `/admin/async/…` on the status port. */
  admin(req: IncomingMessage, res: ServerResponse): void;
}

/** Path prefix of the status resources below a version (`/{api}/v{major}` + this + id). */
export const ASYNC_STATUS_PREFIX = '/_requests/';

const iso = (ms: number | null): string | undefined => (ms === null || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString());

function answerView(answer: AsyncUpstreamAnswer, withhold: boolean): Record<string, unknown> {
  const view: Record<string, unknown> = { status: answer.status, confirmedBy: answer.confirmedBy };
  if (answer.contentType !== null) view.contentType = answer.contentType;
  if (withhold) return { ...view, withheld: true };
  if (answer.truncated) return { ...view, truncated: true };
  if (answer.encoding === 'base64') return { ...view, bodyBase64: answer.body };
  if (answer.contentType !== null && /json/i.test(answer.contentType)) {
    try {
      return { ...view, body: JSON.parse(answer.body) as unknown };
    } catch {
      // not JSON after all: shown as text
    }
  }
  return { ...view, body: answer.body };
}

/** What the consumer sees of its request. */
export function statusView(entry: AsyncEntry, forAdmin = false): Record<string, unknown> {
  const { record, state } = entry;
  const view: Record<string, unknown> = {
    id: record.id,
    status: state.status,
    api: record.api,
    major: record.major,
    operation: record.operationId,
    receivedAt: iso(record.receivedAt),
    updatedAt: iso(state.updatedAt),
    attempts: state.attempts,
  };
  if ((state.status === 'failed' || state.status === 'pending') && state.nextAttemptAt !== null) view.nextAttemptAt = iso(state.nextAttemptAt);
  if (state.lastError !== null) view.error = state.lastError;
  if (state.upstream !== null) view.upstream = answerView(state.upstream, record.withholdAnswer && !forAdmin);
  return view;
}

/** What an admin sees: the status plus the request as queued (never a credential: none is kept). */
function adminView(entry: AsyncEntry): Record<string, unknown> {
  const { record, state } = entry;
  let body: unknown = null;
  if (record.body !== null) {
    const bytes = Buffer.from(record.body, 'base64');
    try {
      body = /json/i.test(record.headers['content-type'] ?? '') ? (JSON.parse(bytes.toString('utf8')) as unknown) : record.body;
    } catch {
      body = record.body;
    }
  }
  return {
    ...statusView(entry, true),
    consumer: record.consumer,
    subject: record.subject,
    version: record.version,
    method: record.method,
    path: record.path,
    orderingKey: record.orderingKey.split('\n').slice(2).join('\n'),
    txid: record.txid,
    traceId: record.traceId,
    inDoubt: state.inDoubt,
    actor: state.actor,
    maxAttempts: record.plan.maxAttempts,
    probe: record.plan.probe !== null,
    headers: record.headers,
    body,
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-request-id': requestId });
  res.end(text);
}

/**
 * @example
 * const routes = createAsyncRoutes({ store, logger, accessLog, adminToken, adminLabel: 'ops', snapshotHash: () => hash });
 * if (path.startsWith('/admin/async/')) routes.admin(req, res);
 */
export function createAsyncRoutes(options: AsyncRoutesOptions): AsyncRoutes {
  const { store, logger, accessLog } = options;
  const clock = options.clock ?? { now: () => Date.now() };

  async function status(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, api: string, major: number, rest: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new GatewayError('route.method_not_allowed', `${req.method ?? ''} is not allowed on a request's status.`, { headers: { allow: 'GET, HEAD' } });
    const id = rest.slice(ASYNC_STATUS_PREFIX.length).split('?')[0]!;
    const notFound = new GatewayError('async.not_found', 'No queued request with this id for this caller.');
    if (!ASYNC_ID_PATTERN.test(id)) throw notFound;
    let entry: AsyncEntry | undefined;
    try {
      entry = await store.get(id);
    } catch (error) {
      throw new GatewayError('async.store_unavailable', 'The status of queued requests cannot be read right now; retry later.', { headers: { 'retry-after': '1' }, cause: error });
    }
    // Another consumer's request (or another subject's) is indistinguishable from none.
    const record = entry?.record;
    if (entry === undefined || record!.api !== api || record!.major !== major || record!.consumer !== ctx.consumer?.id || (record!.subject !== null && record!.subject !== ctx.subject)) throw notFound;
    if (res.writableEnded || req.socket.destroyed) return;
    const text = JSON.stringify(statusView(entry));
    res.writeHead(200, { ...ctx.responseHeaders, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-request-id': ctx.requestId });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  /** Runs one admin action, then its audit line and access record. */
  async function act(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, id: string, action: 'replay' | 'discard', path: string): Promise<void> {
    const started = performance.now();
    let outcome: AdminOutcome;
    try {
      outcome = action === 'replay' ? await store.revive(id, options.adminLabel) : await store.discard(id, options.adminLabel);
    } catch (error) {
      throw new GatewayError('async.store_unavailable', 'The dead-letter list cannot be changed right now; retry later.', { headers: { 'retry-after': '1' }, cause: error });
    }
    if (outcome.kind === 'not_found') throw new GatewayError('async.not_found', `No queued request ${id}.`);
    if (outcome.kind === 'not_dead') throw new GatewayError('async.not_dead_letter', `Request ${id} is ${outcome.entry.state.status}, not a dead letter.`, { extensions: { status: outcome.entry.state.status } });
    const { record } = outcome.entry;
    const decision = action === 'replay' ? 'async.replayed' : 'async.discarded';
    logger.info('admin action', { audit: true, actor: options.adminLabel, action: decision, id, api: record.api, major: record.major, operation: record.operationId, consumer: record.consumer, traceId: record.traceId });
    accessLog.write(
      asyncAccessRecord({
        record,
        decision,
        at: clock.now(),
        requestId: ctx.requestId,
        status: 200,
        latencyMs: performance.now() - started,
        upstreamLatencyMs: null,
        upstreamStatus: null,
        snapshotHash: options.snapshotHash(),
        method: req.method ?? 'POST',
        path,
        subject: `admin:${options.adminLabel}`,
      }),
    );
    sendJson(res, 200, statusView(outcome.entry, true), ctx.requestId);
  }

  async function admin(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, token: string): Promise<void> {
    requireAdminToken(req, token);
    const url = new URL(req.url ?? '/', 'http://status.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const only = (allowed: string): void => {
      if (method !== allowed) throw new GatewayError('route.method_not_allowed', `${method} is not allowed here.`, { headers: { allow: allowed } });
    };
    if (path === '/admin/async/dead-letters') {
      only('GET');
      const limitText = url.searchParams.get('limit') ?? '100';
      const limit = Number(limitText);
      if (!/^\d+$/.test(limitText) || limit < 1 || limit > 500) throw new GatewayError('request.invalid_path', '`limit` must be an integer from 1 to 500.');
      const after = url.searchParams.get('after') ?? undefined;
      if (after !== undefined && !ASYNC_ID_PATTERN.test(after)) throw new GatewayError('request.invalid_path', '`after` must be a request id.');
      let items: AsyncEntry[];
      try {
        items = await store.listDead(limit, after);
      } catch (error) {
        throw new GatewayError('async.store_unavailable', 'The dead-letter list cannot be read right now; retry later.', { headers: { 'retry-after': '1' }, cause: error });
      }
      sendJson(res, 200, { items: items.map(adminView), next: items.length === limit ? items[items.length - 1]!.record.id : null }, ctx.requestId);
      return;
    }
    const inspect = /^\/admin\/async\/requests\/([^/]+)$/.exec(path);
    if (inspect !== null) {
      only('GET');
      const id = inspect[1]!;
      const entry = ASYNC_ID_PATTERN.test(id) ? await store.get(id).catch((error: unknown) => {
        throw new GatewayError('async.store_unavailable', 'Queued requests cannot be read right now; retry later.', { headers: { 'retry-after': '1' }, cause: error });
      }) : undefined;
      if (entry === undefined) throw new GatewayError('async.not_found', `No queued request ${id}.`);
      sendJson(res, 200, adminView(entry), ctx.requestId);
      return;
    }
    const action = /^\/admin\/async\/dead-letters\/([^/]+)\/(replay|discard)$/.exec(path);
    if (action !== null) {
      only('POST');
      const id = action[1]!;
      if (!ASYNC_ID_PATTERN.test(id)) throw new GatewayError('async.not_found', `No queued request ${id}.`);
      await act(req, res, ctx, id, action[2] as 'replay' | 'discard', path);
      return;
    }
    throw new GatewayError('route.not_found', 'No such admin route.');
  }

  return {
    status,
    admin(req, res) {
      const ctx = adminContext();
      const token = options.adminToken;
      if (token === undefined || token === '') {
        renderProblem(res, new GatewayError('route.not_found', 'The admin routes are disabled: no admin token is configured (GATEWAY_ADMIN_TOKEN).'), ctx);
        return;
      }
      admin(req, res, ctx, token).catch((error: unknown) => {
        if (!(error instanceof GatewayError)) logger.error('async admin route failed', { error: (error as Error).message });
        renderProblem(res, error instanceof GatewayError ? error : new GatewayError('gateway.internal', 'The admin request failed.', { cause: error }), ctx);
      });
    },
  };
}
