/**
 * @module Dev IdP over real loopback HTTP, mounted under /oidc beside other routes: discovery,
 * client_credentials JWTs, admin login (code + PKCE), key rotation, no secrets in logs.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { createDevIdentityProvider, type DevIdentityProvider } from '../../control-plane/dev-idp/dev-idp.js';
import { DEMO_CLIENTS, DEMO_USERS, demoIdentities } from '../../control-plane/dev-idp/demo-identities.js';
import { LoginFailedError, loginAs } from './dev-idp-login.js';

const AUDIENCE = 'gatehouse';
const TTL = 300;
const storefront = DEMO_CLIENTS.find((client) => client.clientId === 'storefront')!;
const postClient = {
  clientId: 'post-client',
  clientSecret: 'planted-post-client-secret-7f3a',
  scopes: ['orders:read'],
  description: 'Authenticates with client_secret_post.',
  tokenEndpointAuthMethod: 'client_secret_post' as const,
};

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

describe('dev IdP mounted under /oidc', () => {
  let server: Server;
  let idp: DevIdentityProvider;
  let origin: string;
  const logs: string[] = [];
  const issuedTokens: string[] = [];

  before(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { clients, users } = demoIdentities();
    const record = (level: string) => (message: string, meta?: Record<string, unknown>) => {
      logs.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`);
    };
    idp = await createDevIdentityProvider({
      issuer: `${origin}/oidc`,
      audience: AUDIENCE,
      clients: [...clients, postClient],
      users,
      accessTokenTtlSeconds: TTL,
      logger: { info: record('info'), warn: record('warn'), error: record('error') },
    });
    server.on('request', (req, res) => {
      const url = req.url ?? '/';
      if (url === '/oidc' || url.startsWith('/oidc/') || url.startsWith('/oidc?')) {
        idp.callback(req, res);
      } else if (url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else {
        res.writeHead(404).end();
      }
    });
  });

  after(async () => {
    await idp.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function clientCredentials(
    clientId: string,
    secret: string,
    params: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (typeof body.access_token === 'string') issuedTokens.push(body.access_token);
    return { status: response.status, body };
  }

  async function verify(token: string) {
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    return jwtVerify(token, jwks, { issuer: idp.issuer, audience: AUDIENCE, typ: 'at+jwt' });
  }

  it('publishes a discovery document under the issuer path', async () => {
    const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    const discovery = (await response.json()) as Record<string, unknown>;
    assert.equal(discovery.issuer, `${origin}/oidc`);
    assert.equal(discovery.token_endpoint, idp.tokenEndpoint);
    assert.equal(discovery.jwks_uri, idp.jwksUri);
    assert.equal(discovery.authorization_endpoint, `${origin}/oidc/auth`);
    const grantTypes = discovery.grant_types_supported as string[];
    assert.ok(grantTypes.includes('client_credentials'));
    assert.ok(grantTypes.includes('authorization_code'));
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
    const methods = discovery.token_endpoint_auth_methods_supported as string[];
    assert.ok(methods.includes('client_secret_basic') && methods.includes('client_secret_post'));
  });

  it('shares the server with other routes and answers only under its prefix', async () => {
    const health = await fetch(`${origin}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    assert.equal((await fetch(`${origin}/.well-known/openid-configuration`)).status, 404);
    const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.kid, idp.currentKid());
    assert.equal(jwks.keys[0]!.d, undefined, 'private key material must never be published');
  });

  it('issues a verifiable RS256 JWT to storefront (client_secret_basic)', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { status, body } = await clientCredentials('storefront', storefront.clientSecret, {
      scope: 'orders:read products:read',
    });
    assert.equal(status, 200);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'orders:read products:read');
    const { payload, protectedHeader } = await verify(body.access_token as string);
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(protectedHeader.kid, idp.currentKid());
    assert.equal(payload.client_id, 'storefront');
    assert.equal(payload.azp, 'storefront');
    assert.equal(payload.sub, 'storefront');
    assert.equal(payload.scope, 'orders:read products:read');
    assert.ok(Math.abs(payload.exp! - (before + TTL)) <= 2, `exp ${payload.exp} ≈ now + ${TTL}`);
  });

  it('grants all of the client’s scopes when none are requested', async () => {
    const { status, body } = await clientCredentials('storefront', storefront.clientSecret);
    assert.equal(status, 200);
    const { payload } = await verify(body.access_token as string);
    assert.deepEqual(String(payload.scope).split(' ').sort(), [...storefront.scopes].sort());
    assert.equal(body.scope, payload.scope);
  });

  it('refuses a scope the client does not hold with invalid_scope', async () => {
    const { status, body } = await clientCredentials('storefront', storefront.clientSecret, {
      scope: 'orders:read customers:write',
    });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_scope');
    assert.equal(body.access_token, undefined);
  });

  it('refuses a wrong secret with 401 invalid_client', async () => {
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: basic('storefront', 'not-the-secret'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as Record<string, unknown>).error, 'invalid_client');
  });

  it('accepts client_secret_post for a client registered with it', async () => {
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: postClient.clientId,
        client_secret: postClient.clientSecret,
      }).toString(),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, unknown>;
    issuedTokens.push(body.access_token as string);
    const { payload } = await verify(body.access_token as string);
    assert.equal(payload.client_id, 'post-client');
    assert.equal(payload.scope, 'orders:read');
  });

  it('logs olivia.owner in through code + PKCE with roles and teams in the access token', async () => {
    const olivia = DEMO_USERS.find((user) => user.username === 'olivia.owner')!;
    const { accessToken, idToken } = await loginAs(olivia.username, olivia.password, { issuer: idp.issuer });
    issuedTokens.push(accessToken, idToken);
    const { payload } = await verify(accessToken);
    assert.equal(payload.sub, 'olivia.owner');
    assert.deepEqual(payload.roles, ['owner']);
    assert.deepEqual(payload.teams, ['erp-team']);
    assert.equal(payload.client_id, 'gatehouse-admin');
    assert.equal(payload.scope, 'gatehouse:admin');
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    const id = await jwtVerify(idToken, jwks, { issuer: idp.issuer, audience: 'gatehouse-admin' });
    assert.equal(id.payload.sub, 'olivia.owner');
  });

  it('gives each demo user their own roles', async () => {
    const ada = DEMO_USERS.find((user) => user.username === 'ada.auditor')!;
    const { accessToken } = await loginAs(ada.username, ada.password, { issuer: idp.issuer });
    issuedTokens.push(accessToken);
    const { payload } = await verify(accessToken);
    assert.equal(payload.sub, 'ada.auditor');
    assert.deepEqual(payload.roles, ['auditor']);
  });

  it('refuses a wrong password and an unknown user', async () => {
    await assert.rejects(
      loginAs('olivia.owner', 'planted-wrong-password-91c2', { issuer: idp.issuer }),
      (error: unknown) => error instanceof LoginFailedError && error.status === 401,
    );
    await assert.rejects(
      loginAs('mallory', 'demo-owner', { issuer: idp.issuer }),
      (error: unknown) => error instanceof LoginFailedError && error.status === 401,
    );
  });

  it('rotates keys: new tokens use the new kid, old tokens still verify', async () => {
    const old = await clientCredentials('crm-sync', 'demo-crm-sync-secret');
    assert.equal(old.status, 200);
    const oldKid = idp.currentKid();
    assert.equal(decodeProtectedHeader(old.body.access_token as string).kid, oldKid);

    const newKid = await idp.rotateKeys();
    assert.notEqual(newKid, oldKid);
    assert.equal(idp.currentKid(), newKid);

    const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: { kid: string }[] };
    assert.deepEqual(jwks.keys.map((key) => key.kid).sort(), [newKid, oldKid].sort());

    const fresh = await clientCredentials('crm-sync', 'demo-crm-sync-secret');
    assert.equal(fresh.status, 200);
    assert.equal(decodeProtectedHeader(fresh.body.access_token as string).kid, newKid);
    assert.equal((await verify(fresh.body.access_token as string)).payload.azp, 'crm-sync');
    assert.equal((await verify(old.body.access_token as string)).payload.azp, 'crm-sync');

    // Sessions and cookies survive the Provider swap: logins keep working after rotation.
    const { accessToken } = await loginAs('adam.admin', 'demo-admin', { issuer: idp.issuer });
    issuedTokens.push(accessToken);
    assert.equal(decodeProtectedHeader(accessToken).kid, newKid);
    assert.deepEqual(decodeJwt(accessToken).roles, ['admin']);
  });

  it('never writes a secret, password or token to the log', () => {
    assert.ok(logs.length > 0, 'the IdP logged something');
    assert.ok(logs.some((line) => line.includes('token request refused')));
    const planted = [
      ...DEMO_CLIENTS.map((client) => client.clientSecret),
      ...DEMO_USERS.map((user) => user.password),
      postClient.clientSecret,
      'planted-wrong-password-91c2',
      'not-the-secret',
      ...issuedTokens,
    ];
    for (const line of logs) {
      for (const secret of planted) assert.ok(!line.includes(secret), `log line leaks a credential: ${line.slice(0, 40)}…`);
    }
  });
});

describe('dev IdP options', () => {
  it('rejects duplicate client ids and a bad ttl', async () => {
    const { clients, users } = demoIdentities();
    await assert.rejects(
      createDevIdentityProvider({ issuer: 'http://127.0.0.1:1/oidc', audience: AUDIENCE, clients: [...clients, clients[0]!], users }),
      /duplicate dev client id/,
    );
    await assert.rejects(
      createDevIdentityProvider({ issuer: 'http://127.0.0.1:1/oidc', audience: AUDIENCE, clients, users, accessTokenTtlSeconds: 0 }),
      /accessTokenTtlSeconds/,
    );
  });

  it('demoIdentities returns copies with secret overrides', () => {
    const { clients } = demoIdentities({ secrets: { storefront: 'override-secret' } });
    assert.equal(clients.find((client) => client.clientId === 'storefront')!.clientSecret, 'override-secret');
    assert.equal(clients.find((client) => client.clientId === 'crm-sync')!.clientSecret, 'demo-crm-sync-secret');
    clients[0]!.scopes.push('mutated');
    assert.ok(!DEMO_CLIENTS[0]!.scopes.includes('mutated'));
  });
});
