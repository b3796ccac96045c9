/**
 * @module `request-hygiene`: refuses ambiguous paths and malformed headers before routing,
 * and builds the header set sent upstream (no hop-by-hop headers, no client-asserted
 * forwarding or identity headers unless the peer is a trusted proxy). Rules follow RFC 9110
 * §7.6.1 (hop-by-hop, `Connection`) and RFC 3986 §5.2.4 (dot segments).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { definePolicy } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { requestHygieneSchema, type RequestHygieneConfig } from './schema.js';

/**
 * Anything in a path that two parsers could read differently: raw controls, space, DEL or
 * backslash; a malformed escape; encoded dot, slash, backslash or percent (double decoding);
 * encoded controls; empty segments; `.` or `..` segments.
 */
const AMBIGUOUS_PATH =
  /[\x00-\x20\x7f\\]|%(?![0-9A-Fa-f]{2})|%(?:2[eEfF]|5[cC]|25|[01][0-9A-Fa-f]|7[fF])|\/\/|\/\.\.?(?:[\/;]|$)/;
/** In the query only raw controls (Node refuses most already) and encoded NUL are refused. */
const AMBIGUOUS_QUERY = /[\x00-\x20\x7f]|%00/;

/**
 * Never forwarded: RFC 9110 §7.6.1 hop-by-hop headers plus the de-facto ones; `host` (the
 * proxy sets the upstream's); and the caller's credentials.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  // Answered by this server (100-continue); never passed on.
  'expect',
  // The caller's credentials are the gateway's to check; upstream adapters add their own.
  'authorization',
  'x-api-key',
  'cookie',
]);

/** Headers a client could use to claim an address, scheme or identity. */
function isAssertedByProxy(name: string): boolean {
  return (
    name.startsWith('x-forwarded-') ||
    name === 'forwarded' ||
    name === 'x-real-ip' ||
    name === 'x-client-ip' ||
    name.startsWith('x-consumer-') ||
    name.startsWith('x-authenticated-') ||
    name.startsWith('x-user') ||
    name.startsWith('x-gatehouse-')
  );
}

function buildTrustList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    if (family === undefined) throw new Error(`trustedProxies: "${entry}" is not an IP address or CIDR range`);
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function isTrusted(list: BlockList | undefined, address: string): boolean {
  if (list === undefined || address === '') return false;
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

export const requestHygienePolicy = definePolicy<RequestHygieneConfig>({
  name: 'request-hygiene',
  priority: 9000,
  schema: requestHygieneSchema,
  create(config) {
    const trusted = buildTrustList(config.trustedProxies);

    return function requestHygiene(req, _res, ctx) {
      const url = req.url ?? '';
      if (url.length > config.maxUrlLength) {
        throw new GatewayError('request.url_too_long', `The request target is longer than ${config.maxUrlLength} characters.`);
      }
      const queryAt = url.indexOf('?');
      const path = queryAt === -1 ? url : url.slice(0, queryAt);
      if (path.charCodeAt(0) !== 47 /* '/' */ || AMBIGUOUS_PATH.test(path)) {
        throw new GatewayError(
          'request.invalid_path',
          'The path contains dot segments, empty segments, encoded separators, control characters or double encoding.',
        );
      }
      if (queryAt !== -1 && AMBIGUOUS_QUERY.test(url.slice(queryAt + 1))) {
        throw new GatewayError('request.invalid_path', 'The query string contains control characters.');
      }

      // Control characters in header values never get here: Node's strict parser refuses them
      // (answered as a problem by the server's clientError handler).
      const raw = req.rawHeaders;
      if (raw.length / 2 > config.maxHeaderCount) {
        throw new GatewayError('request.headers_too_large', `More than ${config.maxHeaderCount} header fields.`);
      }
      let bytes = 0;
      for (let i = 0; i < raw.length; i++) bytes += raw[i]!.length;
      if (bytes > config.maxHeaderBytes) {
        throw new GatewayError('request.headers_too_large', `Header fields exceed ${config.maxHeaderBytes} bytes.`);
      }
      const peer = normaliseAddress(req.socket.remoteAddress ?? '');
      const fromTrustedProxy = isTrusted(trusted, peer);
      // Node has lower-cased the names and folded repeated fields (RFC 9110 §5.3).
      const headers = req.headers;
      const connectionListed = headers.connection;
      const listed =
        connectionListed === undefined
          ? undefined
          : new Set(connectionListed.toLowerCase().split(',').map((token) => token.trim()));
      const out: Record<string, string | string[]> = {};
      for (const name in headers) {
        if (HOP_BY_HOP.has(name) || listed?.has(name) === true) continue;
        if (!fromTrustedProxy && isAssertedByProxy(name)) continue;
        out[name] = headers[name]!;
      }

      // X-Forwarded-For: a trusted proxy's chain is kept and our peer appended (RFC 7239 spirit);
      // the client is the right-most address that is not one of our trusted proxies.
      const chain = fromTrustedProxy ? (out['x-forwarded-for'] as string | undefined) : undefined;
      ctx.clientAddress = fromTrustedProxy ? rightmostUntrusted(chain, trusted) ?? peer : peer;
      out['x-forwarded-for'] = chain === undefined ? peer : `${chain}, ${peer}`;
      if (!fromTrustedProxy || out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = 'http';
      ctx.upstreamHeaders = out;
    };
  },
});

function rightmostUntrusted(chain: string | undefined, trusted: BlockList | undefined): string | undefined {
  if (chain === undefined) return undefined;
  const hops = chain.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseAddress(hops[i]!.trim());
    if (!isIPv4(hop) && !isIPv6(hop)) return undefined;
    if (!isTrusted(trusted, hop)) return hop;
  }
  return undefined;
}
