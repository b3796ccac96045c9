/**
 * @module Answering from the gateway's own copy (a cached or stored response, a fallback) the
 * same way the proxy relays an upstream answer: its headers, the context's added headers, the
 * request id, and the request's response transforms (`transformCaptured`), which the proxy
 * applies to relayed answers too.
 */
import type { ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { CapturedResponse, RequestContext } from '../contracts/index.js';
import { GatewayError } from './errors.js';

/** Why an answer could not be read by a transform. */
type Unreadable = 'too-large' | 'content-coding' | 'not-json' | 'transform-failed';

/** The body in identity coding (RFC 9110 §8.4.1), or `undefined` for a coding we do not read. */
function decoded(body: Buffer, coding: string, maxBytes: number): Buffer | undefined {
  // One byte over the limit is enough to know the answer is too large.
  const limit = { maxOutputLength: maxBytes + 1 };
  try {
    switch (coding) {
      case '':
      case 'identity':
        return body;
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body, limit);
      case 'deflate':
        return inflateSync(body, limit);
      case 'br':
        return brotliDecompressSync(body, limit);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

function withheld(name: string, reason: Unreadable): GatewayError {
  return new GatewayError('upstream.error', `The answer could not be checked by ${name} (${reason}); it was withheld rather than sent unchecked.`, {
    extensions: { withheldBy: name, reason },
  });
}

/**
 * Applies the request's response transforms (`ctx.responseTransforms`) to an answer read
 * whole, nearest the upstream first (reverse order of registration). An empty body passes as
 * is. An answer a transform cannot read — not JSON, larger than its `maxBytes`, in a content
 * coding other than identity, gzip, deflate or br — is sent unchanged unless a fail-closed
 * transform (field masking) is present: then it is withheld.
 *
 * @returns the answer to send (the same object when nothing applies), re-serialised, without
 *   `Content-Encoding`, and with a strong `ETag` made weak (the bytes are no longer the upstream's)
 * @throws GatewayError `upstream.error` (502) when a fail-closed transform cannot read the answer
 * @example
 * const sent = transformCaptured({ status: 200, headers: { 'content-type': 'application/json' }, body }, ctx);
 */
export function transformCaptured(response: CapturedResponse, ctx: RequestContext): CapturedResponse {
  const transforms = ctx.responseTransforms;
  if (transforms === undefined || transforms.length === 0 || response.body.length === 0) return response;
  let readable = 0;
  for (const transform of transforms) readable = Math.max(readable, transform.maxBytes);
  const rawCoding = response.headers['content-encoding'];
  const coding = (Array.isArray(rawCoding) ? rawCoding.join(',') : (rawCoding ?? '')).trim().toLowerCase();

  let json: unknown;
  let size = 0;
  let unreadable: Unreadable | undefined;
  if (response.body.length > readable && (coding === '' || coding === 'identity')) {
    unreadable = 'too-large';
  } else {
    const body = decoded(response.body, coding, readable);
    if (body === undefined) unreadable = 'content-coding';
    else if (body.length > readable) unreadable = 'too-large';
    else {
      try {
        json = JSON.parse(body.toString('utf8'));
        size = body.length;
      } catch {
        unreadable = 'not-json';
      }
    }
  }
  if (unreadable !== undefined) {
    const strict = transforms.find((t) => t.failClosed);
    if (strict !== undefined) throw withheld(strict.name, unreadable);
    return response;
  }

  let applied = false;
  for (let i = transforms.length - 1; i >= 0; i--) {
    const transform = transforms[i]!;
    if (size > transform.maxBytes) {
      if (transform.failClosed) throw withheld(transform.name, 'too-large');
      continue;
    }
    let next: unknown;
    try {
      next = transform.apply(json, response.status, ctx);
    } catch {
      // A transform that breaks must not let a masked field through.
      if (transform.failClosed) throw withheld(transform.name, 'transform-failed');
      continue;
    }
    if (next !== undefined) json = next;
    applied = true;
  }
  if (!applied) return response;
  const headers = { ...response.headers };
  delete headers['content-encoding'];
  const etag = headers.etag;
  if (typeof etag === 'string' && !etag.startsWith('W/')) headers.etag = `W/${etag}`;
  return { status: response.status, headers, body: Buffer.from(JSON.stringify(json), 'utf8') };
}

/**
 * Sends an answer the gateway holds (a policy's stored copy, a fallback): its headers, the
 * request id and the context's added headers, after the request's response transforms.
 *
 * @throws GatewayError when a fail-closed response transform cannot read the answer (nothing is sent)
 * @example
 * sendCaptured(res, stored, ctx, { 'idempotent-replayed': 'true' });
 */
export function sendCaptured(res: ServerResponse, captured: CapturedResponse, ctx: RequestContext, extra?: Record<string, string>): void {
  if (res.headersSent || res.writableEnded) return;
  const answer = transformCaptured(captured, ctx);
  const headers: Record<string, string | string[] | number> = { ...answer.headers, ...ctx.responseHeaders, ...extra };
  headers['content-length'] = answer.body.length;
  headers['x-request-id'] = ctx.requestId;
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}
