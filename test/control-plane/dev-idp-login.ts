/**
 * @module Test helper: logs a dev IdP user in the way a browser would (authorization code +
 * PKCE through the login form) with plain fetch and a tiny cookie jar, and returns the tokens;
 * and gets a client's token with the client-credentials grant.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface LoginOptions {
  /** Issuer of the dev IdP, e.g. `http://127.0.0.1:4000/oidc`. */
  issuer: string;
  /** Default `gatehouse-admin`. */
  clientId?: string;
  /** Must be registered for the client. Default `http://127.0.0.1:4000/auth/callback`. */
  redirectUri?: string;
  /** Default `openid profile email gatehouse:admin`. */
  scope?: string;
}

export interface LoginTokens {
  accessToken: string;
  idToken: string;
}

/** Thrown when any step of the login fails; never carries the password. */
export class LoginFailedError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'LoginFailedError';
    this.status = status;
  }
}

class CookieJar {
  readonly #cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key = '', date = ''] = attribute.split('=');
        return key.trim().toLowerCase() === 'expires' && Date.parse(date) <= Date.now();
      });
      if (value === '' || expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/**
 * Runs the whole authorization code + PKCE flow for `username` and exchanges the code.
 *
 * @example
 * const { accessToken } = await loginAs('olivia.owner', 'demo-owner', { issuer: idp.issuer });
 */
export async function loginAs(
  username: string,
  password: string,
  options: LoginOptions,
): Promise<LoginTokens> {
  const clientId = options.clientId ?? 'gatehouse-admin';
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1:4000/auth/callback';
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(8).toString('hex');
  const jar = new CookieJar();

  const authorize = new URL(`${options.issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: options.scope ?? 'openid profile email gatehouse:admin',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce: randomBytes(8).toString('hex'),
  }).toString();

  async function request(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: jar.header() },
    });
    jar.store(response);
    return response;
  }

  // Follow redirects inside the IdP until one leaves for the redirect URI or a page is shown.
  async function follow(response: Response, from: string): Promise<{ response: Response; url: string }> {
    let url = from;
    for (let hops = 0; response.status >= 300 && response.status < 400; hops += 1) {
      if (hops > 10) throw new LoginFailedError('too many redirects', response.status);
      await response.arrayBuffer();
      url = new URL(response.headers.get('location') ?? '', url).href;
      if (url.startsWith(redirectUri)) return { response, url };
      response = await request(url);
    }
    return { response, url };
  }

  const loginPage = await follow(await request(authorize.href), authorize.href);
  if (loginPage.response.status !== 200) {
    throw new LoginFailedError(`authorization request failed: ${await loginPage.response.text()}`, loginPage.response.status);
  }
  const html = await loginPage.response.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new LoginFailedError('no login form', loginPage.response.status);
  const formUrl = new URL(action.replace(/&amp;/g, '&'), loginPage.url).href;

  const submitted = await request(formUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString(),
  });
  if (submitted.status < 300 || submitted.status >= 400) {
    await submitted.arrayBuffer();
    throw new LoginFailedError(`login refused for ${username}`, submitted.status);
  }
  const callback = await follow(submitted, formUrl);
  if (!callback.url.startsWith(redirectUri)) {
    throw new LoginFailedError(`login did not reach the redirect URI: ${await callback.response.text()}`, callback.response.status);
  }
  const returned = new URL(callback.url).searchParams;
  const code = returned.get('code');
  if (returned.get('state') !== state || !code) {
    throw new LoginFailedError(`authorization failed: ${returned.get('error') ?? 'no code'}`, 400);
  }

  const tokenResponse = await fetch(`${options.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: clientId,
      code_verifier: verifier,
    }).toString(),
  });
  const body = (await tokenResponse.json()) as Record<string, unknown>;
  if (!tokenResponse.ok || typeof body.access_token !== 'string' || typeof body.id_token !== 'string') {
    throw new LoginFailedError(`token exchange failed: ${String(body.error ?? 'no tokens')}`, tokenResponse.status);
  }
  return { accessToken: body.access_token, idToken: body.id_token };
}

/**
 * An access token for a client through the client-credentials grant (all its scopes unless
 * `scope` narrows them).
 *
 * @example
 * const token = await clientToken(`${issuer}/token`, 'gatehouse-gateway', 'demo-gateway-secret');
 */
export async function clientToken(tokenEndpoint: string, clientId: string, clientSecret: string, scope?: string): Promise<string> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
    },
    body: scope === undefined ? 'grant_type=client_credentials' : `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
  });
  if (response.status !== 200) throw new LoginFailedError(`the token endpoint answered ${response.status} for ${clientId}: ${await response.text()}`, response.status);
  return ((await response.json()) as { access_token: string }).access_token;
}
