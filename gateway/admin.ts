/**
 * @module The gateway's admin routes on the status port: `POST /admin/cache/purge` with
 * `{"prefix": "<api>/v<major>/<path>"}` purges cached answers by key prefix. Bearer token set by
 * the operator (`GATEWAY_ADMIN_TOKEN`), compared in constant time; none set: the route is off
 * (404). Errors are problem documents like on the traffic port.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../contracts/index.js';
import { GatewayError, type CachePurgeRegistry, type Logger } from '../policies/index.js';
import { readBody } from './body.js';
import { renderProblem } from './problem.js';

export interface CachePurgeRouteOptions {
  /** Absent or empty: the admin routes are disabled. */
  token: string | undefined;
  registry: CachePurgeRegistry;
  logger: Logger;
}

const CHALLENGE = 'Bearer realm="gatehouse-admin"';
const MAX_BODY_BYTES = 8 * 1024;
const MAX_PREFIX_LENGTH = 2048;

/** SHA-256 first, so the comparison takes the same time whatever the lengths. */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** What a refusal needs of a request context (the status port has no pipeline). */
export function adminContext(): RequestContext {
  return { traceId: randomBytes(16).toString('hex'), requestId: randomBytes(8).toString('hex'), decision: 'allow', responseHeaders: undefined } as RequestContext;
}

/** Throws 401 `auth.token_missing` / `auth.token_invalid` (with the challenge) unless the request carries the operator token. */
export function requireAdminToken(req: IncomingMessage, token: string): void {
  const authorization = req.headers.authorization;
  if (authorization === undefined) {
    throw new GatewayError('auth.token_missing', 'The admin route needs the operator token as a bearer token.', { headers: { 'www-authenticate': CHALLENGE } });
  }
  const match = /^Bearer +(\S+)$/i.exec(authorization);
  if (match === null || !sameToken(match[1]!, token)) {
    throw new GatewayError('auth.token_invalid', 'The admin token is not valid.', { headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` } });
  }
}

async function purge(req: IncomingMessage, res: ServerResponse, options: CachePurgeRouteOptions & { token: string }): Promise<void> {
  requireAdminToken(req, options.token);
  if (req.method !== 'POST') throw new GatewayError('route.method_not_allowed', `${req.method ?? ''} is not allowed here.`, { headers: { allow: 'POST' } });
  if (!/json/i.test(req.headers['content-type'] ?? '')) throw new GatewayError('request.unsupported_media_type', 'Send {"prefix": "..."} as application/json.');
  const body = await readBody(req, MAX_BODY_BYTES);
  let prefix: unknown;
  try {
    prefix = (JSON.parse(body.toString('utf8')) as { prefix?: unknown } | null)?.prefix;
  } catch {
    throw new GatewayError('request.malformed_body', 'The request body is not valid JSON.');
  }
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > MAX_PREFIX_LENGTH) {
    throw new GatewayError('request.malformed_body', `"prefix" must be a string of 1 to ${MAX_PREFIX_LENGTH} characters, such as "orders/v1/products".`);
  }
  let purged: number;
  try {
    purged = await options.registry.purge(prefix);
  } catch (error) {
    options.logger.error('cache purge failed', { prefix, error: (error as Error).message, cause: ((error as Error).cause as Error | undefined)?.message });
    throw new GatewayError('gateway.internal', 'The cache could not be purged (a store failed); the gateway log has the cause. Retry.', { cause: error });
  }
  options.logger.info('cache purged', { prefix, purged });
  const text = JSON.stringify({ prefix, purged });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Answers `/admin/cache/purge` on the status port.
 *
 * @example
 * if (path === '/admin/cache/purge') handleCachePurge(req, res, { token: options.adminToken, registry, logger });
 */
export function handleCachePurge(req: IncomingMessage, res: ServerResponse, options: CachePurgeRouteOptions): void {
  const ctx = adminContext();
  const { token } = options;
  if (token === undefined || token === '') {
    renderProblem(res, new GatewayError('route.not_found', 'The admin routes are disabled: no admin token is configured (GATEWAY_ADMIN_TOKEN).'), ctx);
    return;
  }
  purge(req, res, { ...options, token }).catch((error: unknown) => {
    renderProblem(res, error instanceof GatewayError ? error : new GatewayError('gateway.internal', 'The admin request failed.', { cause: error }), ctx);
  });
}
