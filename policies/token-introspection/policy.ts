/**
 * @module `token-introspection`: opaque bearer access tokens checked by asking the authorization
 * server (RFC 7662, via openid-client). The gateway authenticates as its own client with a
 * secret resolved once per snapshot; answers are cached by a hash of the token, an active one
 * never past the token's `exp` nor past `cacheMaxTtlSeconds`; concurrent requests with the same
 * token share one introspection call. An unreachable, failing or slow endpoint fails closed:
 * 503 `auth.provider_unavailable`, never a pass and never a 401 the caller did not earn.
 */
import { hash } from 'node:crypto';
import * as oidc from 'openid-client';
import type { RequestContext } from '../../contracts/index.js';
import { definePolicy, type PolicyDeps } from '../define-policy.js';
import { GatewayError, SnapshotCompileError } from '../errors.js';
import { tokenIntrospectionSchema, type SecretRef, type TokenIntrospectionConfig } from './schema.js';

const REALM = 'Bearer realm="gatehouse"';
const LOOPBACK_HTTP = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/;
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
/** While the endpoint keeps failing, one warning per this many milliseconds (the counter counts all). */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** The one place this policy's 401s are built: the challenge per RFC 6750 §3, never the token. */
function unauthorized(detail: string): GatewayError {
  const description = detail.replace(/["\\]/g, '');
  return new GatewayError('auth.token_invalid', detail, {
    headers: { 'www-authenticate': `${REALM}, error="invalid_token", error_description="${description}"` },
  });
}

/**
 * Resolves the client secret a snapshot names through the gateway's resolver, once per snapshot
 * compile; an unset variable rejects the snapshot (naming the variable, never a value).
 */
function resolveSecret(ref: SecretRef, deps: PolicyDeps): string {
  const value = deps.resolveSecret(ref.env);
  if (value === undefined || value === '') throw new SnapshotCompileError([`clientSecret: environment variable ${ref.env} is not set`]);
  return value;
}

/** Plain http carries the client secret in clear: allowed on loopback only (development). */
function isSafeUrl(url: string): boolean {
  return url.startsWith('https://') || LOOPBACK_HTTP.test(url);
}

interface Identity {
  subject: string | undefined;
  clientId: string | undefined;
  scopes: readonly string[];
}

/** What one introspection answer means for every request presenting the same token. */
type Outcome = { accepted: true; identity: Identity } | { accepted: false; reason: string };

/** Insertion-ordered map with a size bound (oldest dropped first) and a deadline per entry. */
class BoundedCache<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, until: number, now: number): void {
    if (this.#max === 0 || until <= now) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, until });
  }
}

/** Whether an answer's `aud` (a string or a list) names one of the accepted audiences. */
function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  return values.some((value) => typeof value === 'string' && accepted.includes(value));
}

/**
 * The error's shape for the log: names, codes, statuses and messages (fetch and openid-client
 * say things like "connect ECONNREFUSED 127.0.0.1:1"), with every credential in `hide` cut
 * out in case a message ever quotes one. Never a request or a response body.
 */
function describeFailure(error: unknown, hide: readonly string[]): Record<string, unknown> {
  const scrub = (text: string): string => hide.reduce((clean, secret) => clean.split(secret).join('[redacted]'), text).slice(0, 300);
  if (!(error instanceof Error)) return { error: typeof error };
  const { code, status } = error as { code?: unknown; status?: unknown };
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const causeCode = (cause as { code?: unknown } | undefined)?.code;
  return {
    error: error.name,
    reason: scrub(error.message),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof status === 'number' ? { status } : {}),
    ...(cause === undefined ? {} : { cause: scrub(`${cause.name}: ${cause.message}`) }),
    ...(typeof causeCode === 'string' ? { causeCode } : {}),
  };
}

/**
 * Bearer opaque-token authentication by RFC 7662 introspection. Runs beside `api-key` and
 * `jwt-auth` (same priority, ties by name): a caller another credential already identified is
 * left alone.
 *
 * @example
 * // a version's policies in a snapshot; GATEHOUSE_INTROSPECTION_SECRET set in the gateway's environment
 * { policy: 'token-introspection', config: {
 *   issuer: 'https://idp.example.com', clientId: 'gatehouse-gateway',
 *   clientSecret: { env: 'GATEHOUSE_INTROSPECTION_SECRET' }, audiences: ['gatehouse-opaque'] } }
 */
export const tokenIntrospectionPolicy = definePolicy<TokenIntrospectionConfig>({
  name: 'token-introspection',
  priority: 1450,
  schema: tokenIntrospectionSchema,
  create(config, deps) {
    const secret = resolveSecret(config.clientSecret, deps);
    const endpoint = config.introspectionEndpoint;
    if (!isSafeUrl(endpoint ?? config.issuer)) {
      throw new SnapshotCompileError([
        `${endpoint === undefined ? 'issuer' : 'introspectionEndpoint'} must be https (plain http only on loopback): the client secret travels with every call`,
      ]);
    }
    const countIntrospection = deps.metrics.counter('token_introspections_total', 'Token introspection calls (cache misses), by outcome.', ['outcome']);
    const acceptedTypes = new Set(config.tokenTypes.map((type) => type.toLowerCase()));
    const skewMs = config.clockSkewSeconds * 1000;

    /**
     * The openid-client configuration, once per snapshot per server and client: the explicit
     * endpoint, or OpenID discovery on first use (a failed discovery is retried by the next
     * request). Keyed by the secret's variable name, never its value.
     */
    const resolveConfiguration = deps.scope.memo(
      `introspection ${config.issuer} ${endpoint ?? '(discovered)'} ${config.clientId} ${config.clientSecret.env} ${config.clientAuthMethod} ${config.timeoutMs}`,
      () => {
        const clientAuth = config.clientAuthMethod === 'client_secret_post' ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret);
        const insecure = LOOPBACK_HTTP.test(endpoint ?? config.issuer);
        const timeout = config.timeoutMs / 1000;
        if (endpoint !== undefined) {
          const configuration = new oidc.Configuration({ issuer: config.issuer, introspection_endpoint: endpoint }, config.clientId, secret, clientAuth);
          configuration[oidc.customFetch] = deps.fetch;
          configuration.timeout = timeout;
          if (insecure) oidc.allowInsecureRequests(configuration);
          return () => Promise.resolve(configuration);
        }
        let pending: Promise<oidc.Configuration> | undefined;
        return () =>
          (pending ??= oidc
            .discovery(new URL(config.issuer), config.clientId, secret, clientAuth, {
              execute: insecure ? [oidc.allowInsecureRequests] : [],
              [oidc.customFetch]: deps.fetch,
              timeout,
            })
            .then((discovered) => {
              const found = discovered.serverMetadata().introspection_endpoint;
              if (found === undefined) throw new Error(`issuer ${config.issuer} publishes no introspection_endpoint`);
              if (!isSafeUrl(found)) throw new Error(`issuer ${config.issuer} publishes a plain-http introspection_endpoint`);
              return discovered;
            })
            .catch((error: unknown) => {
              pending = undefined;
              throw error;
            }));
      },
    );

    // Active answers live until min(exp, now + cacheMaxTtlSeconds): a revoked token works at
    // most that long, an expired one never. Refusals are cached too, but briefly and apart:
    // RFC 7662 tokens do not come back to life, so a client hammering a dead token should cost
    // one call per window, not one per request; yet a distributed server may not know a token
    // minted a moment ago, so the window stays short (default 5 s) and its own map keeps a
    // flood of garbage tokens from evicting the active answers.
    const accepted = new BoundedCache<Identity>(config.cacheMaxEntries);
    const refused = new BoundedCache<string>(config.negativeCacheTtlSeconds === 0 ? 0 : config.cacheMaxEntries);
    const inFlight = new Map<string, Promise<Outcome>>();
    let lastFailureLog = -Infinity;
    let failuresSinceLog = 0;

    /** RFC 7662 §2.2 answer → outcome. The server decides `active`; the rest is defence in depth. */
    function judge(answer: oidc.IntrospectionResponse, now: number): { outcome: Outcome; until: number } {
      const refuse = (reason: string): { outcome: Outcome; until: number } => ({
        outcome: { accepted: false, reason },
        until: now + config.negativeCacheTtlSeconds * 1000,
      });
      if (answer.active !== true) return refuse('The token is not active (unknown, expired or revoked).');
      const { exp, nbf, iss, token_type: tokenType } = answer;
      if (answer.cnf !== undefined) return refuse('The token is bound to a key (cnf); a bearer presentation is refused.');
      if (typeof tokenType === 'string' && !acceptedTypes.has(tokenType.toLowerCase())) return refuse('The token type is not accepted.');
      if (iss !== undefined && iss !== config.issuer) return refuse('The token issuer is not trusted.');
      if (typeof exp === 'number' && exp * 1000 + skewMs <= now) return refuse('The token has expired.');
      if (typeof nbf === 'number' && nbf * 1000 - skewMs > now) return refuse('The token is not yet valid.');
      if (config.audiences.length > 0 && !audienceMatches(answer.aud, config.audiences)) return refuse("The token's audience is not acceptable.");
      const scope = typeof answer.scope === 'string' ? answer.scope : '';
      const identity: Identity = {
        subject: typeof answer.sub === 'string' ? answer.sub : undefined,
        clientId: typeof answer.client_id === 'string' ? answer.client_id : undefined,
        scopes: scope.split(' ').filter(Boolean),
      };
      const until = Math.min(typeof exp === 'number' ? exp * 1000 : Infinity, now + config.cacheMaxTtlSeconds * 1000);
      return { outcome: { accepted: true, identity }, until };
    }

    function reportFailure(error: unknown, token: string, now: number): void {
      failuresSinceLog++;
      if (now - lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
      deps.logger.warn('token introspection failed; refusing with 503 (fail closed)', {
        policy: 'token-introspection',
        issuer: config.issuer,
        failures: failuresSinceLog,
        ...describeFailure(error, [token, secret]),
      });
      lastFailureLog = now;
      failuresSinceLog = 0;
    }

    async function introspect(token: string, key: string): Promise<Outcome> {
      let answer: oidc.IntrospectionResponse;
      try {
        answer = await oidc.tokenIntrospection(await resolveConfiguration(), token, { token_type_hint: 'access_token' });
      } catch (error) {
        countIntrospection({ outcome: 'failed' });
        reportFailure(error, token, deps.clock.now());
        throw new GatewayError('auth.provider_unavailable', 'The identity provider could not be reached to check the token.', {
          headers: { 'retry-after': '5' },
          cause: error,
        });
      }
      const now = deps.clock.now();
      const { outcome, until } = judge(answer, now);
      countIntrospection({ outcome: outcome.accepted ? 'active' : 'inactive' });
      if (outcome.accepted) accepted.set(key, outcome.identity, until, now);
      else refused.set(key, outcome.reason, until, now);
      return outcome;
    }

    /** One call per token at a time: concurrent requests with the same token wait on the same answer. */
    function lookup(token: string, key: string): Promise<Outcome> {
      let pending = inFlight.get(key);
      if (pending === undefined) {
        pending = introspect(token, key).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    }

    function apply(ctx: RequestContext, outcome: Outcome): void {
      if (!outcome.accepted) throw unauthorized(outcome.reason);
      ctx.subject = outcome.identity.subject;
      ctx.clientId = outcome.identity.clientId;
      ctx.scopes = outcome.identity.scopes;
    }

    // Synchronous on a cache hit, so a repeat caller costs no promise and no call out.
    return function tokenIntrospection(req, _res, ctx) {
      // Another credential (an API key, or a JWT checked by `jwt-auth`, both earlier by name at
      // the same priority) already identified the caller: either credential is enough.
      if (ctx.consumer !== undefined || ctx.clientId !== undefined) return undefined;
      const header = req.headers.authorization;
      if (header === undefined || header === '') {
        throw new GatewayError('auth.token_missing', 'This API needs a bearer access token.', { headers: { 'www-authenticate': REALM } });
      }
      if (header.length > config.maxTokenBytes + 7) throw unauthorized('The token is too large.');
      const token = BEARER.exec(header)?.[1];
      if (token === undefined) throw unauthorized('The Authorization header is not a bearer token.');

      const key = hash('sha256', token, 'base64url');
      const now = deps.clock.now();
      const identity = accepted.get(key, now);
      if (identity !== undefined) return apply(ctx, { accepted: true, identity });
      const reason = refused.get(key, now);
      if (reason !== undefined) return apply(ctx, { accepted: false, reason });
      return lookup(token, key).then((outcome) => apply(ctx, outcome));
    };
  },
});
