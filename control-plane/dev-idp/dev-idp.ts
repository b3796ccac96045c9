/**
 * @module Development OpenID provider (oidc-provider 8, the last major supported on Node 20) for demo mode: client_credentials for the
 * consuming teams, authorization code + PKCE with a tiny login form for admin users, RS256 JWT
 * access tokens (RFC 9068) for one audience, optionally opaque access tokens for a second one
 * (checked by RFC 7662 introspection, revocable by RFC 7009), and key rotation that keeps old
 * keys published.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, {
  errors,
  type Configuration,
  type KoaContextWithOIDC,
  type ClientMetadata,
} from 'oidc-provider';
import { createMemoryAdapter } from './memory-adapter.js';

/** A machine client of a consuming team; client_credentials grant only. */
export interface DevClient {
  clientId: string;
  clientSecret: string;
  /** Every scope the client may be granted; requesting none grants all of them. */
  scopes: string[];
  description: string;
  /**
   * How the client authenticates at the token endpoint (oidc-provider binds one method per
   * client, RFC 7591 `token_endpoint_auth_method`). Default `client_secret_basic`.
   */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
}

/**
 * A resource server (the gateway) that may introspect any client's token (RFC 7662 §2.1 wants
 * the caller authenticated); it is granted no tokens itself. Authenticates with
 * `client_secret_basic`.
 */
export interface DevIntrospectionClient {
  clientId: string;
  clientSecret: string;
}

/** A human admin user who logs in to the web admin. */
export interface DevUser {
  username: string;
  password: string;
  name: string;
  email: string;
  roles: string[];
  teams: string[];
}

/** Logger the dev IdP writes to; never receives a secret, password or token. */
export interface DevIdpLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface DevIdentityProviderOptions {
  /** Issuer URL including the mount prefix, e.g. `http://127.0.0.1:4000/oidc`. */
  issuer: string;
  /** `aud` of every JWT access token, e.g. `gatehouse`; the default resource. */
  audience: string;
  /**
   * `aud` of opaque access tokens, e.g. `gatehouse-opaque`: a token request naming its resource
   * indicator (`resource=urn:gatehouse-opaque`, see `opaqueResourceIndicator`) gets an opaque
   * token that only introspection can check. Default: none, every access token is a JWT.
   */
  opaqueAudience?: string;
  /** Resource servers allowed to introspect every client's tokens. Default none. */
  introspectionClients?: DevIntrospectionClient[];
  clients: DevClient[];
  users: DevUser[];
  /** Access token lifetime. Default 600. */
  accessTokenTtlSeconds?: number;
  /** Redirect URIs of the `gatehouse-admin` client. Default `['http://127.0.0.1:4000/auth/callback']`. */
  adminRedirectUris?: string[];
  /** Default: discards everything. */
  logger?: DevIdpLogger;
}

export interface DevIdentityProvider {
  /**
   * Node request listener. Expects the full path including the issuer's path prefix (in
   * `req.originalUrl` when an Express mount already stripped it, else in `req.url`).
   */
  callback: (req: IncomingMessage, res: ServerResponse) => void;
  issuer: string;
  jwksUri: string;
  tokenEndpoint: string;
  /**
   * RFC 8707 resource indicator of the audience: the audience itself when it is an absolute URI,
   * else `urn:<audience>` (oidc-provider only accepts absolute URIs). Omitting `resource` in a
   * request selects it anyway.
   */
  resourceIndicator: string;
  /** Resource indicator of `opaqueAudience` (same rule), when configured. */
  opaqueResourceIndicator: string | undefined;
  /** RFC 7662 endpoint; the introspection clients may ask about any token, other clients about their own. */
  introspectionEndpoint: string;
  /** RFC 7009 endpoint; a client may revoke its own opaque tokens (JWTs cannot be revoked). */
  revocationEndpoint: string;
  /** Adds a new signing key that becomes current; old public keys stay in the JWKS. Returns the new kid. */
  rotateKeys(): Promise<string>;
  currentKid(): string;
  close(): Promise<void>;
}

/** Public client of the web admin (authorization code + PKCE, no secret). */
export const ADMIN_CLIENT_ID = 'gatehouse-admin';
/** Resource scope granted to admin users' access tokens; authorization itself is by `roles`. */
export const ADMIN_SCOPE = 'gatehouse:admin';
const OIDC_SCOPES = ['openid', 'profile', 'email'];
const DEFAULT_ADMIN_REDIRECT_URI = 'http://127.0.0.1:4000/auth/callback';
const LOGIN_BODY_LIMIT = 8 * 1024;

const silentLogger: DevIdpLogger = { info() {}, warn() {}, error() {} };

/** The audience itself when it is an absolute URI, else `urn:<audience>` (oidc-provider only accepts absolute URIs). */
function toResourceIndicator(audience: string): string {
  return URL.canParse(audience) ? audience : `urn:${audience}`;
}

type SigningJwk = JWK & { kid: string };

async function generateSigningKey(): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

/**
 * Starts a development OpenID provider. Mount it by handing every request under the issuer's
 * path to `callback` (it strips the prefix itself and tells oidc-provider where it is mounted,
 * the way Express's `app.use(prefix, ...)` would, so every URL it emits carries the prefix).
 * Endpoint URLs are built from the request's Host header; the issuer is fixed.
 *
 * @param options.accessTokenTtlSeconds default 600
 * @param options.adminRedirectUris default `['http://127.0.0.1:4000/auth/callback']`
 * @param options.logger default silent
 * @param options.opaqueAudience default none (JWT access tokens only)
 * @param options.introspectionClients default none
 * @example
 * const server = http.createServer();
 * server.listen(4000, '127.0.0.1');
 * const idp = await createDevIdentityProvider({
 *   issuer: 'http://127.0.0.1:4000/oidc', audience: 'gatehouse', ...demoIdentities(),
 * });
 * server.on('request', (req, res) => {
 *   if (req.url === '/oidc' || req.url?.startsWith('/oidc/')) idp.callback(req, res);
 *   else app(req, res);
 * });
 */
export async function createDevIdentityProvider(
  options: DevIdentityProviderOptions,
): Promise<DevIdentityProvider> {
  const issuer = options.issuer.replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);
  const prefix = issuerUrl.pathname.replace(/\/+$/, '');
  const { audience, opaqueAudience } = options;
  const resourceIndicator = toResourceIndicator(audience);
  const opaqueResourceIndicator = opaqueAudience === undefined ? undefined : toResourceIndicator(opaqueAudience);
  const introspectionClients = options.introspectionClients ?? [];
  const ttl = options.accessTokenTtlSeconds ?? 600;
  const logger = options.logger ?? silentLogger;
  const adminRedirectUris = options.adminRedirectUris ?? [DEFAULT_ADMIN_REDIRECT_URI];

  if (!Number.isInteger(ttl) || ttl <= 0) {
    throw new TypeError('accessTokenTtlSeconds must be a positive integer');
  }
  const clients = new Map(options.clients.map((client) => [client.clientId, client]));
  const users = new Map(options.users.map((user) => [user.username, user]));
  if (clients.size !== options.clients.length) throw new TypeError('duplicate dev client id');
  if (users.size !== options.users.length) throw new TypeError('duplicate dev username');
  if (clients.has(ADMIN_CLIENT_ID)) throw new TypeError(`client id ${ADMIN_CLIENT_ID} is reserved`);
  if (opaqueResourceIndicator === resourceIndicator) throw new TypeError('opaqueAudience must differ from audience');
  const introspectors = new Set(introspectionClients.map((client) => client.clientId));
  if (introspectors.size !== introspectionClients.length) throw new TypeError('duplicate dev introspection client id');
  for (const id of introspectors) {
    if (clients.has(id) || id === ADMIN_CLIENT_ID) throw new TypeError(`introspection client id ${id} is already a client`);
  }

  const resourceScopes = new Set([ADMIN_SCOPE, ...options.clients.flatMap((client) => client.scopes)]);
  const clientMetadata: ClientMetadata[] = [
    ...options.clients.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      client_name: client.description,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: client.tokenEndpointAuthMethod ?? 'client_secret_basic',
      scope: client.scopes.join(' '),
    })),
    {
      client_id: ADMIN_CLIENT_ID,
      client_name: 'Gatehouse web admin',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: adminRedirectUris,
      token_endpoint_auth_method: 'none',
      scope: [...OIDC_SCOPES, ADMIN_SCOPE].join(' '),
    },
    ...introspectionClients.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      client_name: 'Resource server (introspection only)',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
  ];

  /** Resource scopes a client may hold: its own for machine clients, the admin scope for the UI. */
  function resourceScopesOf(clientId: string | undefined): string[] {
    if (clientId === ADMIN_CLIENT_ID) return [ADMIN_SCOPE];
    return clientId === undefined ? [] : (clients.get(clientId)?.scopes ?? []);
  }

  // Shared by every Provider generation so sessions, interactions and grants survive rotation,
  // and signed cookies stay valid.
  const { AdapterClass, store } = createMemoryAdapter();
  const cookieKeys = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')];

  function buildProvider(keys: readonly SigningJwk[]): Provider {
    const signingKid = keys[0]!.kid;
    const configuration: Configuration = {
      adapter: AdapterClass,
      clients: clientMetadata,
      // The first key signs (ID tokens too); later ones are published for verification only.
      jwks: { keys: keys.map((key) => ({ ...key })) },
      cookies: { keys: cookieKeys },
      scopes: [...OIDC_SCOPES, ...resourceScopes],
      claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
      pkce: { required: () => true },
      ttl: {
        AccessToken: ttl,
        ClientCredentials: ttl,
        IdToken: ttl,
        AuthorizationCode: 60,
        Interaction: 10 * 60,
        Session: 8 * 3600,
        Grant: 8 * 3600,
      },
      interactions: { url: async (_ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
      async findAccount(_ctx, sub) {
        const user = users.get(sub);
        if (!user) return undefined;
        return {
          accountId: user.username,
          claims: () => ({ sub: user.username, name: user.name, email: user.email }),
        };
      },
      async extraTokenClaims(_ctx, token) {
        const claims: Record<string, unknown> = { azp: token.clientId };
        const user = token.accountId === undefined ? undefined : users.get(token.accountId);
        if (user) Object.assign(claims, { roles: [...user.roles], teams: [...user.teams] });
        return claims;
      },
      // The web admin is first party: its users are never asked for consent, the grant covers
      // everything the client is registered for.
      async loadExistingGrant(ctx: KoaContextWithOIDC) {
        const { client, session, result, provider } = ctx.oidc;
        if (!client || !session?.accountId) return undefined;
        const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
        if (grantId) return provider.Grant.find(grantId);
        if (client.clientId !== ADMIN_CLIENT_ID) return undefined;
        const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
        // Every configured scope counts as an "OIDC scope" to oidc-provider, the resource one too.
        grant.addOIDCScope([...OIDC_SCOPES, ADMIN_SCOPE].join(' '));
        grant.addResourceScope(resourceIndicator, ADMIN_SCOPE);
        await grant.save();
        return grant;
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: {
          enabled: true,
          // RFC 7662 §4: only resource servers learn about other clients' tokens; a client may
          // still ask about its own.
          allowedPolicy: async (_ctx, client, token) => introspectors.has(client.clientId) || token.clientId === client.clientId,
        },
        // Only opaque tokens can be revoked (oidc-provider keeps no state for JWTs).
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => resourceIndicator,
          useGrantedResource: async () => true,
          async getResourceServerInfo(ctx, indicator, client) {
            const opaque = indicator === opaqueResourceIndicator;
            if (indicator !== resourceIndicator && !opaque) {
              throw new errors.InvalidTarget(`unknown resource; use ${[resourceIndicator, opaqueResourceIndicator].filter(Boolean).join(' or ')}`);
            }
            const scopes = resourceScopesOf(client.clientId);
            // RFC 6749 §3.3: without a scope parameter the server applies a default. oidc-provider
            // would grant nothing; a machine client gets all its scopes. Runs before the grant
            // handler reads the parameter.
            const params = ctx.oidc.params;
            if (params?.grant_type === 'client_credentials' && !params.scope) {
              params.scope = scopes.join(' ');
            }
            // Opaque tokens live in the adapter and are found by introspection; JWTs are self-contained.
            if (opaque) return { scope: scopes.join(' '), audience: opaqueAudience, accessTokenTTL: ttl, accessTokenFormat: 'opaque' };
            return {
              scope: scopes.join(' '),
              audience,
              accessTokenTTL: ttl,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256', kid: signingKid } },
            };
          },
        },
      },
    };
    const provider = new Provider(issuer, configuration);
    provider.on('server_error', (_ctx, error) => {
      logger.error('dev-idp server error', { error: error.name, message: error.message });
    });
    provider.on('grant.error', (ctx, error) => {
      logger.warn('dev-idp token request refused', {
        error: error.error ?? error.name,
        clientId: ctx.oidc.client?.clientId,
      });
    });
    return provider;
  }

  let keys: SigningJwk[] = [await generateSigningKey()];
  let current = buildProvider(keys);
  let currentListener = current.callback();
  let closed = false;

  async function handleInteraction(
    provider: Provider,
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    action: string | undefined,
  ): Promise<void> {
    let interaction;
    try {
      interaction = await provider.interactionDetails(req, res);
    } catch {
      sendHtml(res, 400, page('Login expired', '<p>This login session expired or was not found. Start again.</p>'));
      return;
    }
    if (interaction.uid !== uid) {
      sendHtml(res, 400, page('Login expired', '<p>This login session does not match. Start again.</p>'));
      return;
    }
    if (interaction.prompt.name !== 'login') {
      sendHtml(res, 400, page('Unsupported', `<p>The dev IdP cannot handle the "${escapeHtml(interaction.prompt.name)}" prompt (${escapeHtml(interaction.prompt.reasons.join(', '))}).</p>`));
      return;
    }
    const formAction = `${prefix}/interaction/${encodeURIComponent(uid)}/login`;
    if (req.method === 'GET' && action === undefined) {
      sendHtml(res, 200, loginPage(formAction, String(interaction.params.client_id ?? ''), undefined, ''));
      return;
    }
    if (req.method !== 'POST' || action !== 'login') {
      sendHtml(res, 405, page('Not allowed', '<p>Method not allowed.</p>'));
      return;
    }
    const form = await readForm(req);
    const username = form.get('username') ?? '';
    const user = users.get(username);
    if (!user || !safeEqual(user.password, form.get('password') ?? '')) {
      logger.warn('dev-idp login refused');
      sendHtml(res, 401, loginPage(formAction, String(interaction.params.client_id ?? ''), 'Invalid username or password.', username));
      return;
    }
    logger.info('dev-idp login', { username: user.username });
    await provider.interactionFinished(req, res, { login: { accountId: user.username } }, { mergeWithLastSubmission: false });
  }

  function devIdentityProvider(req: IncomingMessage, res: ServerResponse): void {
    if (closed) {
      sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'dev IdP closed' });
      return;
    }
    const incoming = req as IncomingMessage & { originalUrl?: string };
    const fullUrl = incoming.originalUrl ?? req.url ?? '/';
    const rest = stripPrefix(fullUrl, prefix);
    if (rest === undefined) {
      sendJson(res, 404, { error: 'not_found' });
      return;
    }
    const provider = current;
    const listener = currentListener;
    const interactionMatch = /^\/interaction\/([^/?]+)(?:\/([^/?]+))?\/?(?:\?|$)/.exec(rest);
    if (interactionMatch) {
      const uid = decodeURIComponent(interactionMatch[1]!);
      handleInteraction(provider, req, res, uid, interactionMatch[2]).catch((error: unknown) => {
        logger.error('dev-idp interaction failed', { error: error instanceof Error ? error.name : 'unknown' });
        if (!res.headersSent) sendHtml(res, 500, page('Error', '<p>Login failed unexpectedly.</p>'));
        else res.end();
      });
      return;
    }
    // oidc-provider derives its mount path from originalUrl minus url (as under Express), so
    // every URL it emits (discovery, redirects, cookie paths) carries the prefix.
    incoming.originalUrl = fullUrl;
    req.url = rest;
    listener(req, res);
  }

  logger.info('dev-idp ready', {
    issuer,
    audience,
    opaqueAudience,
    introspectionClients: introspectors.size,
    kid: keys[0]!.kid,
    clients: clients.size,
    users: users.size,
  });

  return {
    callback: devIdentityProvider,
    issuer,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    resourceIndicator,
    opaqueResourceIndicator,
    introspectionEndpoint: `${issuer}/token/introspection`,
    revocationEndpoint: `${issuer}/token/revocation`,
    async rotateKeys() {
      const key = await generateSigningKey();
      keys = [key, ...keys];
      // Build first, swap in two assignments with nothing in between: requests already inside
      // the old Provider finish there, new ones reach the new one.
      const next = buildProvider(keys);
      current = next;
      currentListener = next.callback();
      logger.info('dev-idp signing key rotated', { kid: key.kid, publishedKeys: keys.length });
      return key.kid;
    },
    currentKid: () => keys[0]!.kid,
    async close() {
      closed = true;
      store.clear();
    },
  };
}

/** Path after `prefix` ("/" at least), or undefined when the URL is not under it. */
function stripPrefix(url: string, prefix: string): string | undefined {
  if (prefix === '') return url.startsWith('/') ? url : `/${url}`;
  if (!url.startsWith(prefix)) return undefined;
  const rest = url.slice(prefix.length);
  if (rest === '') return '/';
  if (rest.startsWith('/')) return rest;
  if (rest.startsWith('?')) return `/${rest}`;
  return undefined;
}

function safeEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > LOGIN_BODY_LIMIT) throw new Error('login form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Gatehouse dev IdP</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}label{display:block;margin:.6rem 0}input{width:100%}.error{color:#b00020}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function loginPage(action: string, clientId: string, error: string | undefined, username: string): string {
  return page(
    'Sign in',
    `<p>Development identity provider for <code>${escapeHtml(clientId)}</code>. Demo accounts only.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}" autocomplete="off">
<label>Username <input name="username" value="${escapeHtml(username)}" required autofocus></label>
<label>Password <input name="password" type="password" required></label>
<button type="submit">Sign in</button>
</form>`,
  );
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
