/**
 * @module `jwt-auth`: bearer JWT access tokens verified with jose against each trusted issuer's
 * JWKS (RFC 9068 profile; RFC 8725 best practices). One remote JWKS set per issuer per
 * snapshot, with jose's cooldown so unknown `kid`s cannot hammer the IdP; embedded keys
 * (`jwk`, `jku`, `x5u`, `x5c`) are refused, never followed; verified tokens are cached by a
 * hash of the token, never past `exp`, and each connection remembers its last one.
 */
import { hash } from 'node:crypto';
import type { Socket } from 'node:net';
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import * as oidc from 'openid-client';
import type { RequestContext } from '../../contracts/index.js';
import { definePolicy } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { jwtAuthSchema, type JwtAuthConfig } from './schema.js';

const REALM = 'Bearer realm="gatehouse"';
/** Three base64url segments: what a JWT access token looks like before anything is checked. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const LOOPBACK_HTTP = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/;
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
/** Claims only ID tokens carry (OpenID Connect Core §2, §3.1.3.6, §3.3.2.11). */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'];

/** The one place 401s are built: the challenge per RFC 6750 §3, never the token. */
function unauthorized(detail: string, cause?: unknown): GatewayError {
  const description = detail.replace(/["\\]/g, '');
  return new GatewayError('auth.token_invalid', detail, {
    headers: { 'www-authenticate': `${REALM}, error="invalid_token", error_description="${description}"` },
    cause,
  });
}

/**
 * The last header a keep-alive connection presented and what it verified to. Clients send the
 * same token on every request of a connection, so a repeat is recognised by comparing the
 * header, without the regex and the hash of a cache lookup. Only the policy instance that
 * verified it (`owner`) reads it, so a snapshot swap or another API's binding never does.
 */
interface ConnectionMemo {
  readonly owner: object;
  readonly header: string;
  readonly verified: Verified;
}

const LAST_TOKEN = Symbol('gatehouse.jwt-auth.last-token');
type MemoSocket = Socket & { [LAST_TOKEN]?: ConnectionMemo };

interface Verified {
  subject: string | undefined;
  clientId: string | undefined;
  scopes: readonly string[];
  /** Seconds since the epoch. */
  exp: number;
}

function toVerified(payload: JWTPayload, rolesClaim: string, roleScopes: Readonly<Record<string, string[]>>): Verified {
  const scope = typeof payload.scope === 'string' ? payload.scope : Array.isArray(payload.scp) ? (payload.scp as string[]).join(' ') : '';
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : undefined;
  const scopes = new Set(scope.split(' ').filter(Boolean));
  const roles = payload[rolesClaim];
  if (Array.isArray(roles)) {
    for (const role of roles) {
      if (typeof role === 'string' && Object.hasOwn(roleScopes, role)) for (const granted of roleScopes[role]!) scopes.add(granted);
    }
  }
  return { subject: payload.sub, clientId, scopes: [...scopes], exp: payload.exp ?? 0 };
}

export const jwtAuthPolicy = definePolicy<JwtAuthConfig>({
  name: 'jwt-auth',
  priority: 1450,
  schema: jwtAuthSchema,
  create(config, deps) {
    const countFetch = deps.metrics.counter('jwks_fetches_total', 'JWKS documents fetched, by issuer.', ['issuer']);
    const countVerification = deps.metrics.counter('jwt_verifications_total', 'Signature checks (verified-token cache misses), by outcome.', ['outcome']);
    /** One remote key set per JWKS URI and snapshot, shared by every binding naming it. */
    const remoteSet = (jwksUri: string, issuer: string): JWTVerifyGetKey =>
      deps.scope.memo(`jwks ${jwksUri} ${config.jwksCooldownSeconds}`, () =>
        createRemoteJWKSet(new URL(jwksUri), {
          cooldownDuration: config.jwksCooldownSeconds * 1000,
          timeoutDuration: 5000,
          [customFetch]: (url: string, init: RequestInit) => {
            countFetch({ issuer });
            return deps.fetch(url, init);
          },
        }),
      );

    /**
     * No JWKS URI configured: OpenID discovery of the issuer (openid-client) on first use, once
     * per snapshot; a failed discovery is retried by the next request. Plain http is allowed
     * only for loopback issuers (development).
     */
    const discoveredSet = (issuer: string): JWTVerifyGetKey =>
      deps.scope.memo(`discovery ${issuer} ${config.jwksCooldownSeconds}`, () => {
        let pending: Promise<JWTVerifyGetKey> | undefined;
        const resolve = (): Promise<JWTVerifyGetKey> =>
          (pending ??= oidc
            .discovery(new URL(issuer), 'gatehouse-gateway', undefined, undefined, {
              execute: LOOPBACK_HTTP.test(issuer) ? [oidc.allowInsecureRequests] : [],
              [oidc.customFetch]: deps.fetch,
            })
            .then((discovered) => {
              const jwksUri = discovered.serverMetadata().jwks_uri;
              if (jwksUri === undefined) throw new Error(`issuer ${issuer} publishes no jwks_uri`);
              return remoteSet(jwksUri, issuer);
            })
            .catch((error: unknown) => {
              pending = undefined;
              throw error;
            }));
        return async (protectedHeader, token) => (await resolve())(protectedHeader, token);
      });

    const issuers = new Map(
      config.issuers.map((issuer) => [
        issuer.issuer,
        { ...issuer, jwks: issuer.jwksUri === undefined ? discoveredSet(issuer.issuer) : remoteSet(issuer.jwksUri, issuer.issuer) },
      ]),
    );
    const allowed = new Set(config.issuers.flatMap((issuer) => issuer.algorithms));
    const cache = new Map<string, Verified>();
    // Bound beside token-introspection (which sorts after it at the same priority): a bearer
    // token that is not a compact JWS is opaque, so it is left to introspection to decide.
    const introspectionBound = deps.version?.spec.policies.some((binding) => binding.policy === 'token-introspection') === true;

    function remember(key: string, verified: Verified): void {
      if (config.cacheSize === 0) return;
      if (cache.size >= config.cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(key, verified);
    }

    function remind(socket: MemoSocket, header: string, verified: Verified): void {
      if (config.cacheSize > 0) socket[LAST_TOKEN] = { owner: cache, header, verified };
    }

    function apply(ctx: RequestContext, result: Verified): void {
      ctx.subject = result.subject;
      ctx.clientId = result.clientId;
      ctx.scopes = result.scopes;
    }

    // Synchronous on a cache hit (the common case: clients reuse a token for minutes), so a
    // repeat caller costs no promise; only a first sight of a token goes async to verify it.
    return function jwtAuth(req, _res, ctx) {
      // Another credential (an API key, checked first by name at the same priority) already
      // identified the caller: either credential is enough.
      if (ctx.consumer !== undefined) return undefined;
      const header = req.headers.authorization;
      if (header === undefined || header === '') {
        throw new GatewayError('auth.token_missing', 'This API needs a bearer access token.', { headers: { 'www-authenticate': REALM } });
      }
      const now = deps.clock.now();
      const socket = req.socket as MemoSocket;
      const memo = socket[LAST_TOKEN];
      if (memo !== undefined && memo.owner === cache && memo.header === header && memo.verified.exp * 1000 > now) {
        apply(ctx, memo.verified);
        return undefined;
      }
      if (header.length > config.maxTokenBytes + 7) throw unauthorized('The token is too large.');
      const token = BEARER.exec(header)?.[1];
      if (token === undefined) throw unauthorized('The Authorization header is not a bearer token.');
      if (introspectionBound && !COMPACT_JWS.test(token)) return undefined;

      const key = hash('sha256', token, 'base64url');
      const cached = cache.get(key);
      if (cached !== undefined && cached.exp * 1000 > now) {
        remind(socket, header, cached);
        apply(ctx, cached);
        return undefined;
      }
      return verify(token, key, now, ctx, socket, header);
    };

    async function verify(token: string, key: string, now: number, ctx: RequestContext, socket: MemoSocket, header: string): Promise<void> {
      let protectedHeader;
      let claims;
      try {
        protectedHeader = decodeProtectedHeader(token);
        claims = decodeJwt(token);
      } catch (error) {
        throw unauthorized('The token is not a well-formed JWT.', error);
      }
      const alg = protectedHeader.alg ?? 'none';
      if (!allowed.has(alg)) throw unauthorized(`Algorithm ${alg} is not accepted.`);
      for (const embedded of ['jwk', 'jku', 'x5u', 'x5c'] as const) {
        if (protectedHeader[embedded] !== undefined) throw unauthorized(`Tokens carrying their own key (${embedded}) are refused.`);
      }
      if (ID_TOKEN_CLAIMS.some((claim) => claims[claim] !== undefined)) throw unauthorized('An ID token is not an access token.');
      const issuer = typeof claims.iss === 'string' ? issuers.get(claims.iss) : undefined;
      if (issuer === undefined) throw unauthorized('The token issuer is not trusted.');
      if (!issuer.algorithms.includes(alg)) throw unauthorized(`Algorithm ${alg} is not accepted for this issuer.`);

      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, issuer.jwks, {
          issuer: issuer.issuer,
          audience: issuer.audiences,
          algorithms: issuer.algorithms,
          clockTolerance: issuer.clockSkewSeconds,
          requiredClaims: ['iss', 'aud', 'exp'],
          currentDate: new Date(now),
        }));
      } catch (error) {
        countVerification({ outcome: 'refused' });
        if (error instanceof errors.JWKSTimeout || (error instanceof Error && !(error instanceof errors.JOSEError))) {
          throw new GatewayError('auth.provider_unavailable', 'The identity provider could not be reached to check the token.', {
            headers: { 'retry-after': '5' },
            cause: error,
          });
        }
        const reason =
          error instanceof errors.JWTExpired
            ? 'The token has expired.'
            : error instanceof errors.JWTClaimValidationFailed
              ? `The token's ${error.claim} claim is not acceptable.`
              : error instanceof errors.JWKSNoMatchingKey
                ? 'No trusted key matches the token.'
                : 'The token signature or claims are invalid.';
        throw unauthorized(reason, error);
      }
      countVerification({ outcome: 'verified' });
      const verified = toVerified(payload, issuer.rolesClaim, issuer.roleScopes);
      remember(key, verified);
      remind(socket, header, verified);
      apply(ctx, verified);
    }
  },
});
