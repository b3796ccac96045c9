/**
 * @module `request-limits`: per-version limits on what a request may be before anything reads
 * it. Body size per operation is handed to the gateway (`maxBodyBytes`), which refuses a
 * declared `Content-Length` above it before reading a byte and stops reading a chunked body
 * at the limit (413). The handler then checks URL length (414), header count and size (431),
 * the body's media type (415) and a JSON body's nesting depth and element count (400), the
 * last by one pass over the bytes, so a hostile document is refused before any policy (schema
 * validation, ownership) or the upstream walks it recursively. (V8's JSON.parse, which the
 * gateway has run by then, is iterative and bounded by the body limit.)
 */
import { definePolicy } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { requestLimitsSchema, type RequestLimitsConfig } from './schema.js';

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Why a JSON text breaks the limits, or `undefined`. Malformed JSON is left to the parser. */
export function jsonComplexity(bytes: Uint8Array, maxDepth: number, maxElements: number): string | undefined {
  let depth = 0;
  let elements = 0;
  let inString = false;
  let awaitingFirst = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (awaitingFirst) {
      awaitingFirst = false;
      if (c !== CLOSE_ARRAY && c !== CLOSE_OBJECT && ++elements > maxElements) return `more than ${maxElements} elements`;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return `nested deeper than ${maxDepth} levels`;
      awaitingFirst = true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    else if (c === COMMA && depth > 0 && ++elements > maxElements) return `more than ${maxElements} elements`;
  }
  return undefined;
}

/** `type/subtype` of a Content-Type value, lower-case, without parameters. */
function mediaType(value: string | undefined): string {
  if (value === undefined) return '';
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
}

const JSON_MEDIA = /^application\/(?:[a-z0-9.+-]+\+)?json$/;

/**
 * @example
 * // snapshot binding on an API version
 * { "policy": "request-limits", "config": { "maxBodyBytes": 65536, "operations": { "createOrder": { "maxBodyBytes": 262144 } },
 *   "contentTypes": ["application/json"], "json": { "maxDepth": 16, "maxElements": 5000 } } }
 */
export const requestLimitsPolicy = definePolicy<RequestLimitsConfig>({
  name: 'request-limits',
  // Before authentication: limits are cheap and refuse abuse before any key or token work.
  priority: 1500,
  schema: requestLimitsSchema,
  // Buffering is what lets the gateway stop a chunked body at the limit instead of streaming it upstream.
  needsBody: true,
  create(config) {
    const { maxDepth, maxElements } = config.json;
    const allowedTypes = (operationId: string | undefined): ReadonlySet<string> | undefined => {
      const list = (operationId === undefined ? undefined : config.operations[operationId]?.contentTypes) ?? config.contentTypes;
      return list.length === 0 ? undefined : new Set(list);
    };
    const typesByOperation = new Map(Object.keys(config.operations).map((id) => [id, allowedTypes(id)]));
    const defaultTypes = allowedTypes(undefined);
    const headerLimits = config.maxHeaderCount !== undefined || config.maxHeaderBytes !== undefined;
    return {
      maxBodyBytes: (operationId) => config.operations[operationId]?.maxBodyBytes ?? config.maxBodyBytes,
      handle(req, _res, ctx) {
        if (config.maxUrlLength !== undefined && ctx.path.length > config.maxUrlLength) {
          throw new GatewayError('request.url_too_long', `The request target is longer than ${config.maxUrlLength} characters.`);
        }
        if (headerLimits) {
          const raw = req.rawHeaders;
          if (config.maxHeaderCount !== undefined && raw.length / 2 > config.maxHeaderCount) {
            throw new GatewayError('request.headers_too_large', `More than ${config.maxHeaderCount} header fields.`);
          }
          if (config.maxHeaderBytes !== undefined) {
            let bytes = 0;
            for (const part of raw) bytes += part.length + 2;
            if (bytes > config.maxHeaderBytes) throw new GatewayError('request.headers_too_large', `Header fields exceed ${config.maxHeaderBytes} bytes.`);
          }
        }
        const body = ctx.body;
        if (body === undefined || body.length === 0) return;
        const type = mediaType(req.headers['content-type']);
        const allowed = ctx.operationId !== undefined && typesByOperation.has(ctx.operationId) ? typesByOperation.get(ctx.operationId) : defaultTypes;
        if (allowed !== undefined && !allowed.has(type)) {
          throw new GatewayError('request.unsupported_media_type', `A body of type "${type || 'none'}" is not accepted here; send ${[...allowed].join(' or ')}.`, {
            headers: { accept: [...allowed].join(', ') },
          });
        }
        if (JSON_MEDIA.test(type)) {
          const why = jsonComplexity(body, maxDepth, maxElements);
          if (why !== undefined) throw new GatewayError('request.json_too_complex', `The JSON body is ${why}.`);
        }
      },
    };
  },
});
