/**
 * @module Answering from the gateway's own copy (a cached or stored response, a fallback) the
 * same way the proxy relays an upstream answer: its headers, the context's added headers and
 * the request id.
 */
import type { ServerResponse } from 'node:http';
import type { CapturedResponse, RequestContext } from '../contracts/index.js';

/**
 * Sends an answer the gateway holds (a policy's stored copy, a fallback): its headers, the
 * request id and the context's added headers.
 *
 * @example
 * sendCaptured(res, stored, ctx, { 'idempotent-replayed': 'true' });
 */
export function sendCaptured(res: ServerResponse, captured: CapturedResponse, ctx: RequestContext, extra?: Record<string, string>): void {
  if (res.headersSent || res.writableEnded) return;
  const headers: Record<string, string | string[] | number> = { ...captured.headers, ...ctx.responseHeaders, ...extra };
  headers['content-length'] = captured.body.length;
  headers['x-request-id'] = ctx.requestId;
  res.writeHead(captured.status, headers);
  res.end(captured.body);
}
