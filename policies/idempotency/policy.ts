/**
 * @module `idempotency`: `Idempotency-Key` (IETF draft-ietf-httpapi-idempotency-key-header).
 * The first request with a key claims it and is forwarded; its answer is kept per API version,
 * caller and key with a fingerprint of the request. A retry with the same key and payload gets
 * the kept answer (`Idempotent-Replayed: true`) and never reaches the upstream; a different
 * payload is 422 `idempotency.key_reused`; a retry while the first is running is 409
 * `idempotency.in_flight`; operations may require the header (400 `idempotency.key_missing`).
 */
import { createHash } from 'node:crypto';
import { canonicalJson, DEFAULT_RETRY, type CapturedResponse, type RequestContext } from '../../contracts/index.js';
import { definePolicy, outcomeCounter, type Clock, type PolicyRequest, type PolicyResponse, type SnapshotScope } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { sendCaptured } from '../respond.js';
import { callerPartition } from '../stored-response.js';
import { idempotencySchema, type IdempotencyConfig } from './schema.js';
import { createMemoryIdempotencyStore, createRedisIdempotencyStore, type Claim, type IdempotencyStore } from './store.js';

/** What one operation does, resolved once per snapshot. */
interface OperationRule {
  required: boolean;
  ttlMs: number;
}

/** A request that claimed a key, until its answer is kept or the claim dropped. */
interface Pending {
  claim: Claim;
  fingerprint: string;
  ttlMs: number;
  /** The tap ran (the answer was kept or the claim released there). */
  settled: boolean;
}

/**
 * An in-flight marker outlives the longest a forwarded request can take — every attempt the
 * route's retry plan allows (the proxy retries keyed POST/PATCH) at the response timeout, the
 * backoffs between them, plus this margin for the adapter's preparation (a token mint) and the
 * body transfer — and then lapses, so a node that died mid-request does not hold the key for
 * the whole TTL.
 */
const IN_FLIGHT_MARGIN_MS = 30_000;

/**
 * Upstream answers that are kept and replayed: what the upstream decided about the request
 * (2xx, 3xx, 4xx). Not kept, so the client may retry with the same key: 5xx and the gateway's
 * own problems (upstream down, timed out), and the 4xx that say "not now" rather than "no" —
 * refused credentials (401, 403, 407: the gateway's own credential upstream), 408, 425, 429.
 */
function keepable(status: number): boolean {
  return status >= 200 && status < 500 && status !== 401 && status !== 403 && status !== 407 && status !== 408 && status !== 425 && status !== 429;
}

/**
 * The key as sent: an RFC 8941 sf-string (`"…"`, as the draft specifies) or, as most clients
 * send it, bare visible ASCII without spaces. Two headers (joined by Node with `, `) and
 * anything else malformed are refused rather than guessed at.
 */
function parseKey(raw: string, maxLength: number): string | undefined {
  let key = raw;
  if (raw.startsWith('"')) {
    if (raw.length < 2 || !raw.endsWith('"')) return undefined;
    key = '';
    const last = raw.length - 1;
    for (let i = 1; i < last; i++) {
      let c = raw[i]!;
      if (c === '\\') {
        c = raw[++i]!;
        if (i >= last || (c !== '"' && c !== '\\')) return undefined;
      } else if (c === '"' || c < ' ' || c > '~') {
        return undefined;
      }
      key += c;
    }
  } else if (!/^[\x21-\x7e]+$/.test(raw)) {
    return undefined;
  }
  return key.length === 0 || key.length > maxLength ? undefined : key;
}

/**
 * SHA-256 over method, target below the version prefix and body. A JSON body counts by its
 * RFC 8785 canonical form, so a client that re-serialises the same object (keys in another
 * order, other spacing) is recognised as sending the same payload.
 */
function fingerprintOf(req: PolicyRequest, ctx: RequestContext): string {
  const hash = createHash('sha256').update(`${req.method ?? ''}\n${ctx.upstreamPath}\n`);
  if (ctx.json !== undefined) hash.update(canonicalJson(ctx.json));
  else if (ctx.body !== undefined) hash.update(ctx.body);
  return hash.digest('base64url');
}

/**
 * @param config.methods defaults to POST and PATCH
 * @param config.ttlSeconds defaults to 24 h
 * @example
 * // a version's policies in a snapshot: order creation must carry a key, kept an hour
 * { policy: 'idempotency', config: { operations: { createOrder: { required: true, ttlSeconds: 3600 } } } }
 */
export const idempotencyPolicy = definePolicy<IdempotencyConfig>({
  name: 'idempotency',
  // After authentication, subscription, RBAC, limits, contract validation and ownership (all
  // above 600): a refused request never claims a key. Before the cache (500) and the proxy.
  priority: 600,
  schema: idempotencySchema,
  needsBody: true,
  create(config, deps) {
    const version = deps.version;
    if (version === undefined) throw new Error('idempotency is bound per API version');
    const { api, major, spec } = version;

    const rules = new Map<string, OperationRule>();
    const methods = new Set<string>(config.methods);
    const declared = new Set(spec.operations.map((op) => op.id));
    const unknown = Object.keys(config.operations).filter((id) => !declared.has(id));
    if (unknown.length > 0) throw new Error(`operations names ids the version does not declare: ${unknown.join(', ')}`);
    for (const op of spec.operations) {
      const own = config.operations[op.id];
      if (op.method === 'GET' || op.method === 'HEAD') {
        if (own?.enabled === true || own?.required === true) throw new Error(`operations.${op.id}: ${op.method} is safe by definition and takes no Idempotency-Key`);
        continue;
      }
      if (!(own?.enabled ?? methods.has(op.method))) continue;
      rules.set(op.id, { required: own?.required ?? config.required, ttlMs: (own?.ttlSeconds ?? config.ttlSeconds) * 1000 });
    }

    const retry = spec.upstream.retry ?? DEFAULT_RETRY;
    const inFlightMs = (retry.attempts + 1) * spec.upstream.responseTimeoutMs + retry.attempts * retry.maxDelayMs + IN_FLIGHT_MARGIN_MS;
    const base = `${api}/v${major}/`;
    const storedHeaders = config.storedHeaders.map((name) => name.toLowerCase());
    const { logger, redis } = deps;
    const store: IdempotencyStore =
      redis === undefined ? memoryStoreFor(deps.lasting, base, config.memoryBudgetBytes, deps.clock) : createRedisIdempotencyStore(redis, config.redisKeyPrefix);
    const counted = outcomeCounter(deps.metrics, 'idempotency_requests_total', 'Keyed requests by outcome (forwarded, kept, released, replayed, refused, store errors).', api, spec.version);
    const pending = new WeakMap<RequestContext, Pending>();

    let lastStoreErrorLog = -Infinity;
    function storeFailed(action: string, error: unknown, ctx: RequestContext): void {
      counted('store_error');
      // One line per 10 s: an outage must not turn into a log flood.
      const now = deps.clock.now();
      if (now - lastStoreErrorLog < 10_000) return;
      lastStoreErrorLog = now;
      logger.error('idempotency store failed', { action, api, major, traceId: ctx.traceId, error: (error as Error).message, onStoreFailure: config.onStoreFailure });
    }

    function release(state: Pending, ctx: RequestContext): void {
      counted('released');
      store.release(state.claim).catch((error: unknown) => storeFailed('release', error, ctx));
    }

    /** Sees the upstream's answer just before it is sent: keeps it, or frees the key. */
    function keep(state: Pending, response: CapturedResponse, ctx: RequestContext): void {
      state.settled = true;
      if (!keepable(response.status)) {
        release(state, ctx);
        return;
      }
      if (response.body.length > config.maxResponseBytes) {
        logger.warn('idempotency: answer too large to keep; key released', { api, major, operation: ctx.operationId, bytes: response.body.length, traceId: ctx.traceId });
        release(state, ctx);
        return;
      }
      const headers: Record<string, string | string[]> = {};
      for (const name of storedHeaders) {
        const value = response.headers[name];
        if (value !== undefined) headers[name] = value;
      }
      counted('kept');
      store
        .complete(state.claim, state.fingerprint, { status: response.status, headers, body: response.body }, state.ttlMs)
        .then(
          (kept) => {
            if (!kept) logger.warn('idempotency: claim lapsed before the answer came; not kept', { api, major, operation: ctx.operationId, traceId: ctx.traceId });
          },
          (error: unknown) => storeFailed('complete', error, ctx),
        );
    }

    async function claimAndDecide(req: PolicyRequest, res: PolicyResponse, ctx: RequestContext, rule: OperationRule, key: string): Promise<void> {
      const fingerprint = fingerprintOf(req, ctx);
      const recordKey = `${base}${callerPartition(ctx)}/${key}`;
      let result;
      try {
        result = await store.claim(recordKey, fingerprint, inFlightMs);
      } catch (error) {
        storeFailed('claim', error, ctx);
        if (config.onStoreFailure === 'failOpen') return;
        throw new GatewayError('idempotency.store_unavailable', 'Idempotency keys cannot be checked right now; retry later with the same key.', {
          headers: { 'retry-after': '1' },
          cause: error,
        });
      }
      if (result.claimed) {
        const state: Pending = { claim: result.claim, fingerprint, ttlMs: rule.ttlMs, settled: false };
        // The client left while the claim was on its way: nothing will be forwarded.
        if (req.socket.destroyed) {
          release(state, ctx);
          return;
        }
        counted('forwarded');
        pending.set(ctx, state);
        (ctx.responseTaps ??= []).push((response, cx) => keep(state, response, cx));
        return;
      }
      const { record } = result;
      if (record.fingerprint !== fingerprint) {
        counted('key_reused');
        throw new GatewayError('idempotency.key_reused', 'This Idempotency-Key was used with a different request (method, path or body); use a new key.');
      }
      if (record.state === 'in_flight') {
        counted('in_flight');
        throw new GatewayError('idempotency.in_flight', 'A request with this Idempotency-Key is still being processed; retry shortly.', { headers: { 'retry-after': '1' } });
      }
      counted('replayed');
      sendCaptured(res, record.response, ctx, { 'idempotent-replayed': 'true' });
    }

    return {
      handle: function idempotency(req, res, ctx) {
        const rule = rules.get(ctx.operationId ?? '');
        if (rule === undefined) return undefined;
        const raw = req.headers['idempotency-key'];
        if (raw === undefined) {
          if (!rule.required) return undefined;
          counted('key_missing');
          throw new GatewayError('idempotency.key_missing', `${ctx.operationId} requires an Idempotency-Key header.`);
        }
        const key = parseKey(raw as string, config.maxKeyLength);
        if (key === undefined) {
          counted('key_invalid');
          throw new GatewayError(
            'request.invalid_header',
            `Idempotency-Key must be one key of 1 to ${config.maxKeyLength} visible ASCII characters (quoted if it holds spaces).`,
          );
        }
        return claimAndDecide(req, res, ctx, rule, key);
      },
      // Runs once per exchange: a claim no tap settled (problem answer, upstream failure,
      // client gone) is dropped so the client can retry with the same key.
      onEnd: function releaseUnanswered(_req, _res, ctx) {
        const state = pending.get(ctx);
        if (state === undefined) return;
        pending.delete(ctx);
        if (!state.settled) release(state, ctx);
      },
    };
  },
});

/**
 * One memory store per API version for the gateway's lifetime, so publishing a snapshot keeps
 * the records (and the keys in flight); a changed budget starts a new, empty one.
 */
function memoryStoreFor(lasting: SnapshotScope, base: string, budgetBytes: number, clock: Clock): IdempotencyStore {
  const holder = lasting.memo(`idempotency:memory:${base}`, () => ({ budgetBytes: 0, store: undefined as IdempotencyStore | undefined }));
  if (holder.store === undefined || holder.budgetBytes !== budgetBytes) {
    holder.store = createMemoryIdempotencyStore(budgetBytes, clock);
    holder.budgetBytes = budgetBytes;
  }
  return holder.store;
}
