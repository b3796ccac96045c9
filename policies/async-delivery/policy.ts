/**
 * @module `async-delivery`: the other end of the pipeline. For the operations it names (always,
 * or when the caller sends `Prefer: respond-async`), the request — authenticated, authorised,
 * limited, validated and owned by then — is persisted in the gateway's durable queue and
 * answered `202 Accepted` with the `Location` of its status resource
 * (`/{api}/v{major}/_requests/{id}`, served to the same consumer only). The gateway's deliverer
 * (gateway/async/) sends it later, in order per ordering key, with retries, and dead-letters
 * what cannot be delivered. The caller's credentials are never persisted.
 */
import { randomBytes } from 'node:crypto';
import type { CapturedResponse, RequestContext } from '../../contracts/index.js';
import { definePolicy, outcomeCounter, type PolicyRequest, type PolicyResponse } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { fillTemplate, readPointer, type AsyncDeliveryPlan, type AsyncProbe, type AsyncRecord } from './queue.js';
import { asyncDeliverySchema, type AsyncDeliveryConfig, type AsyncOperationConfig } from './schema.js';

/** Headers that carry credentials: never persisted, whatever `forwardHeaders` says. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'x-api-key', 'cookie', 'set-cookie']);

/** Longest ordering-key value accepted (it is kept in every record and index). */
const MAX_KEY_VALUE_LENGTH = 256;

/** What one operation does, resolved once per snapshot. */
interface OperationRule {
  readonly always: boolean;
  readonly keyPointer: string | undefined;
  readonly keyHeader: string | undefined;
  readonly plan: Omit<AsyncDeliveryPlan, 'probe'>;
  readonly probe: AsyncOperationConfig['probe'];
}

/** RFC 7240 §4.1: `Prefer: respond-async` (preferences are comma-separated, names case-insensitive). */
export function prefersRespondAsync(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  for (const line of Array.isArray(header) ? header : [header]) {
    for (const preference of line.split(',')) {
      const name = preference.split(/[=;]/, 1)[0]!.trim().toLowerCase();
      if (name === 'respond-async') return true;
    }
  }
  return false;
}

/**
 * Sends the gateway's own 202 as `sendCaptured` would, minus the response transforms: they
 * shape upstream answers, and this one is not (a mask of a field named `status` must not eat it).
 */
function sendAccepted(res: PolicyResponse, answer: CapturedResponse, ctx: RequestContext): void {
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(answer.status, { ...answer.headers, ...ctx.responseHeaders, 'content-length': answer.body.length, 'x-request-id': ctx.requestId });
  res.end(answer.body);
}

/** The gateway path of a queued request's status resource. */
export function asyncStatusPath(api: string, major: number, id: string): string {
  return `/${api}/v${major}/_requests/${id}`;
}

function keyValueOf(rule: OperationRule, req: PolicyRequest, ctx: RequestContext): string | undefined {
  if (rule.keyHeader !== undefined) {
    const value = req.headers[rule.keyHeader];
    return typeof value === 'string' && value.length > 0 ? value : undefined;
  }
  const found = readPointer(ctx.json, rule.keyPointer!);
  if (typeof found === 'string' && found.length > 0) return found;
  if (typeof found === 'number' && Number.isFinite(found)) return String(found);
  return undefined;
}

/**
 * @param config.operations per operation id: `mode` (default `always`), `orderingKey`, `maxAttempts` (30),
 *   `baseDelayMs` (1000), `maxDelayMs` (300000), `probe`
 * @param config.maxStoredResponseBytes defaults to 64 KiB
 * @example
 * // order creations through Odoo JSON-2 queued per order reference, probed by that reference
 * { policy: 'async-delivery', config: { operations: { createOrder: {
 *   orderingKey: '/vals_list/0/client_order_ref',
 *   probe: { method: 'POST', path: '/sale.order/search', body: { domain: [['client_order_ref', '=', { $pointer: '/vals_list/0/client_order_ref' }]] } },
 * } } } }
 */
export const asyncDeliveryPolicy = definePolicy<AsyncDeliveryConfig>({
  name: 'async-delivery',
  // Last of all, where the proxy would take over (DESIGN §5): authentication, subscription,
  // RBAC, limits, contract validation, ownership and idempotency (600) have all had their say,
  // and quota (100) has counted the request, so a refused request is never queued.
  priority: 50,
  schema: asyncDeliverySchema,
  needsBody: true,
  create(config, deps) {
    const version = deps.version;
    if (version === undefined) throw new Error('async-delivery is bound per API version');
    const queue = deps.asyncQueue;
    if (queue === undefined) throw new Error('async-delivery needs the gateway\'s durable queue (GATEWAY_ASYNC_DIR or REDIS_URL), and this gateway has none');
    const { api, major, spec } = version;
    const declared = new Map(spec.operations.map((op) => [op.id, op]));
    const credentialHeaders = config.forwardHeaders.filter((name) => CREDENTIAL_HEADERS.has(name.toLowerCase()));
    if (credentialHeaders.length > 0) throw new Error(`forwardHeaders may not keep credentials: ${credentialHeaders.join(', ')}`);
    const forwardHeaders = config.forwardHeaders.map((name) => name.toLowerCase());

    const rules = new Map<string, OperationRule>();
    for (const [id, op] of Object.entries(config.operations)) {
      const operation = declared.get(id);
      if (operation === undefined) throw new Error(`operations names "${id}", which the version does not declare`);
      if (operation.method === 'GET' || operation.method === 'HEAD') throw new Error(`operations.${id}: a ${operation.method} is answered now or not at all; only writes are queued`);
      if (op.maxDelayMs < op.baseDelayMs) throw new Error(`operations.${id}: maxDelayMs is below baseDelayMs`);
      const key = op.orderingKey;
      rules.set(id, {
        always: op.mode === 'always',
        keyPointer: key !== undefined && key.startsWith('/') ? key : undefined,
        keyHeader: key !== undefined && key.startsWith('header:') ? key.slice('header:'.length).toLowerCase() : undefined,
        plan: { maxAttempts: op.maxAttempts, baseDelayMs: op.baseDelayMs, maxDelayMs: op.maxDelayMs, maxStoredResponseBytes: config.maxStoredResponseBytes },
        probe: op.probe,
      });
    }
    const counted = outcomeCounter(deps.metrics, 'async_requests_total', 'Requests of async operations by outcome (accepted, forwarded synchronously, refused, queue errors).', api, spec.version);
    const { logger, clock } = deps;
    let lastStoreErrorLog = -Infinity;

    function probeOf(rule: OperationRule, ctx: RequestContext): AsyncProbe | null {
      if (rule.probe === undefined) return null;
      const filled = fillTemplate(rule.probe.body ?? null, ctx.json);
      if ('missing' in filled) {
        counted('key_missing');
        throw new GatewayError('async.key_missing', `${ctx.operationId ?? ''} is delivered later and checked by ${filled.missing}, which the body lacks.`);
      }
      return { method: rule.probe.method, path: rule.probe.path, body: filled.value };
    }

    function accept(req: PolicyRequest, res: PolicyResponse, ctx: RequestContext, rule: OperationRule, asked: boolean): Promise<void> {
      const consumer = ctx.consumer?.id;
      // The status resource belongs to the consumer: without one there is nobody to show it to.
      if (consumer === undefined) throw new GatewayError('access.unknown_consumer', 'Queued delivery needs an identified consumer; bind an authentication policy and `subscription`.');
      let keyValue: string;
      if (rule.keyPointer === undefined && rule.keyHeader === undefined) {
        keyValue = `#${randomBytes(12).toString('hex')}`;
      } else {
        const found = keyValueOf(rule, req, ctx);
        if (found === undefined || found.length > MAX_KEY_VALUE_LENGTH) {
          counted('key_missing');
          const where = rule.keyHeader === undefined ? `the body at ${rule.keyPointer!}` : `the ${rule.keyHeader} header`;
          throw new GatewayError('async.key_missing', `${ctx.operationId ?? ''} is delivered in order of ${where}: send a value of 1 to ${MAX_KEY_VALUE_LENGTH} characters.`);
        }
        keyValue = found;
      }
      const probe = probeOf(rule, ctx);
      // Scoped by consumer and API version: one consumer's key never orders (or holds up) another's requests.
      const orderingKey = `${consumer}\n${api}/v${major}\n${keyValue}`;
      const id = queue!.mintId(orderingKey);
      const headers: Record<string, string> = {};
      for (const name of forwardHeaders) {
        const value = ctx.upstreamHeaders[name];
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const record: AsyncRecord = {
        id,
        txid: id,
        consumer,
        subject: ctx.subject ?? null,
        api,
        major,
        version: spec.version,
        operationId: ctx.operationId!,
        method: req.method ?? 'POST',
        path: ctx.upstreamPath,
        headers,
        body: ctx.body === undefined || ctx.body.length === 0 ? null : ctx.body.toString('base64'),
        orderingKey,
        receivedAt: clock.now(),
        traceId: ctx.traceId,
        withholdAnswer: ctx.responseTransforms?.some((transform) => transform.failClosed) === true,
        plan: { ...rule.plan, probe },
      };
      return queue!.enqueue(record).then(
        () => {
          counted('accepted');
          const location = asyncStatusPath(api, major, id);
          const answer: CapturedResponse = {
            status: 202,
            headers: { 'content-type': 'application/json', location, 'cache-control': 'no-store', ...(asked ? { 'preference-applied': 'respond-async' } : {}) },
            body: Buffer.from(JSON.stringify({ id, status: 'pending', location })),
          };
          // Kept by idempotency (its tap), even if the client has left: a retry with the same
          // key gets this 202 again instead of queueing the request twice.
          for (const tap of ctx.responseTaps ?? []) tap(answer, ctx);
          sendAccepted(res, answer, ctx);
        },
        (error: unknown) => {
          counted('store_error');
          const now = clock.now();
          if (now - lastStoreErrorLog >= 10_000) {
            lastStoreErrorLog = now;
            logger.error('async delivery queue refused a request', { api, major, operation: ctx.operationId, traceId: ctx.traceId, error: (error as Error).message });
          }
          throw new GatewayError('async.store_unavailable', 'The request could not be queued for delivery; nothing was sent. Retry later.', { headers: { 'retry-after': '1' }, cause: error });
        },
      );
    }

    return function asyncDelivery(req, res, ctx) {
      const rule = rules.get(ctx.operationId ?? '');
      if (rule === undefined) return undefined;
      const asked = prefersRespondAsync(req.headers.prefer);
      if (!rule.always && !asked) {
        counted('forwarded');
        return undefined;
      }
      return accept(req, res, ctx, rule, asked);
    };
  },
});

