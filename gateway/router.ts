/**
 * @module Routing compiled once per snapshot: `/{api}/v{major}/{rest}` → a compiled version,
 * then `{rest}` → one of the version's declared operations. Exact segment matches only, so
 * `/orders/v1x/…` never reaches `/orders/v1/…`.
 */
import { HTTP_METHODS, type OperationSpec, type VersionStatus } from '../contracts/index.js';
import type { EndHook, PolicyHandler } from '../policies/index.js';
import type { RouteMetrics } from './metrics.js';
import type { Circuit, RetryPlan } from './proxy.js';
import type { UpstreamAdapter } from './upstreams/index.js';

/** What http-proxy needs of a target, pre-parsed so no request parses a URL. */
export interface ProxyTarget {
  protocol: 'http:' | 'https:';
  host: string;
  hostname: string;
  port: string;
  path: string;
}

export interface CompiledVersion {
  readonly api: string;
  readonly version: string;
  readonly major: number;
  readonly status: VersionStatus;
  readonly adapter: UpstreamAdapter;
  readonly target: ProxyTarget;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly handlers: readonly PolicyHandler[];
  /**
   * The policies that establish who the caller is (priority ≥ `IDENTITY_PRIORITY`: request
   * limits, authentication, subscription), for gateway-served resources below the version such
   * as an async request's status.
   */
  readonly identityHandlers: readonly PolicyHandler[];
  readonly endHooks: readonly EndHook[];
  /** The adapter or a policy reads the body, so it is buffered once after routing. */
  readonly needsBody: boolean;
  /**
   * `Deprecation`, `Sunset` and `Link: rel="successor-version"` for a deprecated version (and the
   * successor link for a retired one), added to every answer; undefined for a current version.
   */
  readonly lifecycleHeaders: Readonly<Record<string, string>> | undefined;
  /** Retries of failed attempts (undefined: none). */
  readonly retry: RetryPlan | undefined;
  /** The upstream's circuit breaker (undefined: disabled). */
  readonly circuit: Circuit | undefined;
  /** Largest body buffered for an operation (the gateway's cap, lowered by policies). */
  bodyLimit(operationId: string): number;
  readonly metrics: RouteMetrics;
  matchOperation(method: string, path: string): OperationMatch;
}

export type OperationMatch =
  | { kind: 'found'; id: string; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allow: string }
  | { kind: 'not_found' };

export interface RouteMatch {
  version: CompiledVersion;
  /** Path (with query) below the version prefix; `/` when empty. */
  rest: string;
}

/** Policies at or above this priority identify the caller (subscription is the lowest, at 1200). */
export const IDENTITY_PRIORITY = 1200;

const MAJOR = /^v(0|[1-9][0-9]{0,5})$/;

export interface Router {
  match(url: string): RouteMatch | undefined;
  /** Distinguishes "no such API" from "no such major" for the problem detail. */
  hasApi(slug: string): boolean;
}

export function createRouter(versions: readonly CompiledVersion[]): Router {
  const apis = new Map<string, Map<number, CompiledVersion>>();
  for (const version of versions) {
    let majors = apis.get(version.api);
    if (majors === undefined) apis.set(version.api, (majors = new Map()));
    majors.set(version.major, version);
  }
  return {
    hasApi: (slug) => apis.has(slug),
    match(url) {
      const apiEnd = url.indexOf('/', 1);
      if (apiEnd === -1) return undefined;
      const majors = apis.get(url.slice(1, apiEnd));
      if (majors === undefined) return undefined;
      let versionEnd = url.indexOf('/', apiEnd + 1);
      const queryAt = url.indexOf('?', apiEnd + 1);
      if (queryAt !== -1 && (versionEnd === -1 || queryAt < versionEnd)) versionEnd = queryAt;
      const segment = versionEnd === -1 ? url.slice(apiEnd + 1) : url.slice(apiEnd + 1, versionEnd);
      const major = MAJOR.exec(segment);
      if (major === null) return undefined;
      const version = majors.get(Number(major[1]));
      if (version === undefined) return undefined;
      const rest = versionEnd === -1 ? '/' : url.charCodeAt(versionEnd) === 63 /* ? */ ? `/${url.slice(versionEnd)}` : url.slice(versionEnd);
      return { version, rest };
    },
  };
}

interface TemplateRoute {
  pattern: RegExp;
  names: string[];
  byMethod: Map<string, string>;
}

/** Compiles a version's operations: static paths in a map, templated ones as anchored regexes. */
export function compileOperations(operations: readonly OperationSpec[]): (method: string, path: string) => OperationMatch {
  const exact = new Map<string, Map<string, string>>();
  // Results for static paths are built once, not per request.
  const found = new Map<string, OperationMatch>();
  const foundFor = (id: string): OperationMatch => {
    let result = found.get(id);
    if (result === undefined) found.set(id, (result = Object.freeze({ kind: 'found', id, params: Object.freeze({}) }) as OperationMatch));
    return result;
  };
  const templates: TemplateRoute[] = [];
  const templateByPath = new Map<string, TemplateRoute>();
  for (const op of operations) {
    if (!op.path.includes('{')) {
      let byMethod = exact.get(op.path);
      if (byMethod === undefined) exact.set(op.path, (byMethod = new Map()));
      byMethod.set(op.method, op.id);
      continue;
    }
    let route = templateByPath.get(op.path);
    if (route === undefined) {
      const names: string[] = [];
      const source = op.path
        .split('/')
        .map((segment) =>
          // `{name}` may be a whole segment or part of one (`{id}.json`).
          segment
            .split(/(\{[A-Za-z_][A-Za-z0-9_]*\})/)
            .map((part) => {
              const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part);
              if (param === null) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
              names.push(param[1]!);
              return '([^/]+?)';
            })
            .join(''),
        )
        .join('/');
      route = { pattern: new RegExp(`^${source}$`), names, byMethod: new Map() };
      templateByPath.set(op.path, route);
      templates.push(route);
    }
    route.byMethod.set(op.method, op.id);
  }

  // RFC 9110 §9.3.2: HEAD is allowed wherever GET is, as the same operation.
  for (const byMethod of [...exact.values(), ...templates.map((t) => t.byMethod)]) {
    const get = byMethod.get('GET');
    if (get !== undefined && !byMethod.has('HEAD')) byMethod.set('HEAD', get);
  }
  const allowOf = (byMethod: Map<string, string>): string => HTTP_METHODS.filter((m) => byMethod.has(m)).join(', ');
  return function matchOperation(method, path) {
    const queryAt = path.indexOf('?');
    const bare = queryAt === -1 ? path : path.slice(0, queryAt);
    const byMethod = exact.get(bare);
    if (byMethod !== undefined) {
      const id = byMethod.get(method);
      return id === undefined ? { kind: 'method_not_allowed', allow: allowOf(byMethod) } : foundFor(id);
    }
    for (const route of templates) {
      const match = route.pattern.exec(bare);
      if (match === null) continue;
      const id = route.byMethod.get(method);
      if (id === undefined) return { kind: 'method_not_allowed', allow: allowOf(route.byMethod) };
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = match[i + 1]!));
      return { kind: 'found', id, params };
    }
    return { kind: 'not_found' };
  };
}

export function toProxyTarget(baseUrl: string): ProxyTarget {
  const url = new URL(baseUrl);
  const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
  const port = url.port || (protocol === 'https:' ? '443' : '80');
  return { protocol, host: url.host, hostname: url.hostname, port, path: url.pathname.replace(/\/$/, '') };
}

