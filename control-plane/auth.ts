/**
 * @module Who is calling the admin API: a bearer access token from the configured OpenID
 * issuer (the dev provider in demo mode), verified with jose against the issuer's JWKS; roles
 * and teams from claims (`roles`, `teams` by default), or, for a service client using the
 * client-credentials grant, the roles configured for its client id. Every route declares the
 * roles it needs (`requireRole`): 403 `access.role_missing` otherwise.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { ControlPlaneError } from './errors.js';

/** Human roles, plus `gateway` for gateway nodes (a machine role granted to a service client). */
export const ROLES = ['owner', 'reviewer', 'auditor', 'admin', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** `sub` of the token (the user, or the service client). */
  subject: string;
  /** Display name for audit records: `preferred_username`, `name` or the subject. */
  name: string;
  roles: ReadonlySet<Role>;
  /** Teams the caller belongs to (an owner owns what these teams own). */
  teams: ReadonlySet<string>;
  clientId: string | undefined;
}

export interface AuthOptions {
  issuer: string;
  audience: string;
  /** Absent: `{issuer}/jwks` (the dev provider's layout) — set it for other providers. */
  jwksUri?: string;
  rolesClaim?: string;
  teamsClaim?: string;
  /** Client id → roles, for automation using the client-credentials grant. */
  serviceClients?: Record<string, Role[]>;
  /** Tolerated clock difference. Default 30 s. */
  clockToleranceSeconds?: number;
  fetch?: typeof fetch;
}

export type Authenticator = RequestHandler;

function claimList(payload: JWTPayload, claim: string): string[] {
  const value = payload[claim];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((v) => v !== '');
  return [];
}

function unauthorized(detail: string, error?: 'invalid_token'): ControlPlaneError {
  const challenge = error === undefined ? 'Bearer realm="gatehouse-admin"' : `Bearer realm="gatehouse-admin", error="${error}"`;
  return new ControlPlaneError(error === undefined ? 'auth.token_missing' : 'auth.token_invalid', detail, { headers: { 'www-authenticate': challenge } });
}

/**
 * @example
 * const authenticate = createAuthenticator({ issuer: 'http://127.0.0.1:4000/oidc', audience: 'gatehouse' });
 * app.use('/api/v1', authenticate);
 * router.post('/apis', requireRole('owner', 'admin'), handler);
 */
export function createAuthenticator(options: AuthOptions): Authenticator {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri ?? `${options.issuer.replace(/\/$/, '')}/jwks`), { cooldownDuration: 30_000 });
  const rolesClaim = options.rolesClaim ?? 'roles';
  const teamsClaim = options.teamsClaim ?? 'teams';
  const service = options.serviceClients ?? {};
  return function authenticate(req: Request, res: Response, next: NextFunction): void {
    const header = req.headers.authorization;
    if (header === undefined || !/^Bearer\s+\S+$/i.test(header)) {
      next(unauthorized('Send an access token: Authorization: Bearer <token>.'));
      return;
    }
    const token = header.replace(/^Bearer\s+/i, '');
    jwtVerify(token, jwks, { issuer: options.issuer, audience: options.audience, algorithms: ['RS256', 'PS256', 'ES256'], clockTolerance: options.clockToleranceSeconds ?? 30, requiredClaims: ['exp', 'sub'] }).then(
      ({ payload }) => {
        const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : undefined;
        const fromClaims = claimList(payload, rolesClaim);
        const serviceRoles = clientId !== undefined && payload.sub === clientId ? (service[clientId] ?? []) : [];
        const roles = new Set([...fromClaims, ...serviceRoles].filter((r): r is Role => (ROLES as readonly string[]).includes(r)));
        const principal: Principal = {
          subject: payload.sub!,
          name: typeof payload.preferred_username === 'string' ? payload.preferred_username : typeof payload.name === 'string' ? payload.name : payload.sub!,
          roles,
          teams: new Set(claimList(payload, teamsClaim)),
          clientId,
        };
        res.locals.principal = principal;
        next();
      },
      (error: unknown) => {
        // The reason is safe to show (expired, wrong audience…); the token never is.
        const reason = error instanceof joseErrors.JOSEError ? error.code : 'verification failed';
        if (error instanceof joseErrors.JWKSTimeout || (error as Error).name === 'TypeError') {
          next(new ControlPlaneError('auth.provider_unavailable', 'The identity provider could not be reached to check the token.', { headers: { 'retry-after': '5' } }));
          return;
        }
        next(unauthorized(`The access token was refused (${reason}).`, 'invalid_token'));
      },
    );
  };
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (principal === undefined) throw new ControlPlaneError('auth.token_missing', 'Not authenticated.');
  return principal;
}

/**
 * The route needs one of `roles` (admin always passes).
 *
 * @example
 * router.get('/audit/events', requireRole('auditor'), listEvents);
 */
export function requireRole(...roles: Role[]): RequestHandler {
  const allowed = new Set<Role>([...roles, 'admin']);
  return function checkRole(_req, res, next) {
    const principal = principalOf(res);
    for (const role of principal.roles) {
      if (allowed.has(role)) {
        next();
        return;
      }
    }
    next(new ControlPlaneError('access.role_missing', `This needs the role ${[...allowed].join(' or ')}.`, { extensions: { requiredRoles: [...allowed] } }));
  };
}

/** The role recorded in audit events: the most powerful one the caller holds. */
export function actingRole(principal: Principal): Role {
  for (const role of ['admin', 'owner', 'reviewer', 'auditor'] as const) if (principal.roles.has(role)) return role;
  return 'auditor';
}
