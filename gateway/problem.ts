/**
 * @module The gateway's one problem renderer (RFC 9457 `application/problem+json`). Every
 * refusal and failure passes through here; unknown errors become `gateway.internal` and are
 * logged with their cause, never shown.
 */
import type { ServerResponse } from 'node:http';
import { PROBLEM_CODES, PROBLEM_TYPE_BASE, type Problem, type RequestContext } from '../contracts/index.js';
import { GatewayError, type Logger } from '../policies/index.js';

/** Turns anything thrown on the request path into a `GatewayError`. */
export function toGatewayError(error: unknown, logger: Logger, ctx: RequestContext): GatewayError {
  if (error instanceof GatewayError) return error;
  logger.error('unexpected error on the request path', {
    traceId: ctx.traceId,
    error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
  });
  return new GatewayError('gateway.internal', 'The gateway failed to handle the request; the trace id identifies it in the logs.');
}

/**
 * Writes the problem, or drops the connection when the response has already started (the
 * only honest signal left to the client).
 */
export function renderProblem(res: ServerResponse, error: GatewayError, ctx: RequestContext): void {
  ctx.decision = error.code;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.writableEnded || res.destroyed) return;
  const problem: Problem = {
    type: PROBLEM_TYPE_BASE + error.code,
    title: PROBLEM_CODES[error.code].title,
    status: error.status,
    detail: error.message,
    code: error.code,
    traceId: ctx.traceId,
    ...error.extensions,
  };
  const body = JSON.stringify(problem);
  const headers: Record<string, string | number> = {
    ...ctx.responseHeaders,
    ...error.headers,
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': ctx.requestId,
  };
  res.writeHead(error.status, headers);
  res.end(body);
}
