/**
 * `token-introspection` through a real gateway, with the dev OpenID provider issuing opaque
 * access tokens and answering RFC 7662 introspection (counted at its door), plus a local
 * endpoint with crafted answers for the claim checks: refusals are 401 with a correct
 * challenge and reach the upstream zero times; answers are cached by token, never past `exp`
 * nor the configured TTL, and concurrent requests share one call; an unreachable, failing or
 * slow endpoint fails closed with 503; neither the token nor the gateway's client secret ever
 * reaches a log line.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { OperationSpec } from '../../contracts/index.js';
import { createDevIdentityProvider, type DevIdentityProvider } from '../../control-plane/dev-idp/dev-idp.js';
import { demoIdentities } from '../../control-plane/dev-idp/demo-identities.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const OPAQUE_AUDIENCE = 'gatehouse-opaque';
const GATEWAY_CLIENT = 'gatehouse-introspector';
const SECRET_ENV = 'GATEHOUSE_TEST_INTROSPECTION_SECRET';
/** Planted: no log line, record or problem may ever contain it. */
const GATEWAY_SECRET = `planted-introspection-secret-${randomUUID()}`;
const OPERATIONS: OperationSpec[] = [
  { id: 'listOrders', method: 'GET', path: '/orders' },
  { id: 'createOrder', method: 'POST', path: '/orders' },
];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** A loopback port nothing listens on any more: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await listen(server);
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The dev IdP on loopback, with its introspection endpoint counted and able to misbehave. */
interface IntrospectingIdp {
  idp: DevIdentityProvider;
  introspections(): number;
  /** `up`: answers; `error`: 500; `hang`: never answers. */
  mode: 'up' | 'error' | 'hang';
  /** An opaque access token for a demo client (all its scopes unless `scope` narrows them). */
  opaqueToken(clientId: string, scope?: string): Promise<string>;
  /** A JWT access token (the default resource). */
  jwt(clientId: string): Promise<string>;
  /** RFC 7009 revocation by the token's own client. */
  revoke(clientId: string, token: string): Promise<void>;
  close(): Promise<void>;
}

async function startIntrospectingIdp(accessTokenTtlSeconds: number): Promise<IntrospectingIdp> {
  const server = createServer();
  const origin = await listen(server);
  const { clients, users } = demoIdentities();
  const secrets = new Map(clients.map((c) => [c.clientId, c.clientSecret]));
  const idp = await createDevIdentityProvider({
    issuer: `${origin}/oidc`,
    audience: 'gatehouse',
    opaqueAudience: OPAQUE_AUDIENCE,
    introspectionClients: [{ clientId: GATEWAY_CLIENT, clientSecret: GATEWAY_SECRET }],
    clients,
    users,
    accessTokenTtlSeconds,
  });
  const introspectionPath = new URL(idp.introspectionEndpoint).pathname;
  let introspections = 0;
  const state: IntrospectingIdp = {
    idp,
    introspections: () => introspections,
    mode: 'up',
    async opaqueToken(clientId, scope) {
      return tokenFrom(clientId, { resource: idp.opaqueResourceIndicator!, ...(scope === undefined ? {} : { scope }) });
    },
    async jwt(clientId) {
      return tokenFrom(clientId, {});
    },
    async revoke(clientId, token) {
      const response = await fetch(idp.revocationEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(clientId) },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      assert.equal(response.status, 200, await response.text());
    },
    async close() {
      await idp.close();
      await closeServer(server);
    },
  };
  server.on('request', (req, res) => {
    if (req.url === introspectionPath) {
      introspections++;
      if (state.mode === 'error') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}');
        return;
      }
      if (state.mode === 'hang') return;
    }
    idp.callback(req, res);
  });

  function basic(clientId: string): string {
    return `Basic ${Buffer.from(`${clientId}:${secrets.get(clientId) ?? ''}`).toString('base64')}`;
  }

  async function tokenFrom(clientId: string, params: Record<string, string>): Promise<string> {
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(clientId) },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { access_token: string }).access_token;
  }

  return state;
}

describe('token-introspection', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  let main: IntrospectingIdp;
  /** Issues tokens that live 2 s, for the expiry cases. */
  let shortLived: IntrospectingIdp;
  /** Answers introspection with a crafted body chosen by the presented token. */
  let crafted: Server;
  let craftedUrl: string;
  const craftedAuthorizations: string[] = [];
  /** Every token presented to the gateway, for the no-credentials-in-logs check. */
  const presented: string[] = [];

  before(async () => {
    upstream = await startRecordingUpstream();
    main = await startIntrospectingIdp(600);
    shortLived = await startIntrospectingIdp(2);

    crafted = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        craftedAuthorizations.push(req.headers.authorization ?? '');
        const now = Math.floor(Date.now() / 1000);
        const token = new URLSearchParams(body).get('token') ?? '';
        const good = { active: true, client_id: 'storefront', sub: 'storefront', scope: 'orders:read', aud: OPAQUE_AUDIENCE, iss: craftedUrl, exp: now + 60, token_type: 'Bearer' };
        const answers: Record<string, object> = {
          'crafted-ok': good,
          'crafted-expired': { ...good, exp: now - 600 },
          'crafted-not-yet': { ...good, nbf: now + 600 },
          'crafted-dpop': { ...good, token_type: 'DPoP' },
          'crafted-bound': { ...good, cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } },
          'crafted-foreign': { ...good, iss: 'https://elsewhere.example' },
          'crafted-wrong-aud': { ...good, aud: ['another-api'] },
        };
        if (token === 'crafted-garbled') {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"active": "maybe"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers[token] ?? { active: false }));
      });
    });
    craftedUrl = await listen(crafted);
    const refused = `http://127.0.0.1:${await closedPort()}/oidc`;

    const introspection = (config: Record<string, unknown>) => ({
      policy: 'token-introspection',
      config: { issuer: main.idp.issuer, clientId: GATEWAY_CLIENT, clientSecret: { env: SECRET_ENV }, audiences: [OPAQUE_AUDIENCE], ...config },
    });
    gw = await startTestGateway({
      // The gateway's secret resolver (the environment in production) names the variable.
      secrets: { [SECRET_ENV]: GATEWAY_SECRET },
      snapshot: buildSnapshot({
        apis: [
          // Endpoint found by OpenID discovery of the dev IdP.
          httpApi('orders', upstream.url, OPERATIONS, { policies: [introspection({})] }),
          httpApi('revocable', upstream.url, OPERATIONS, {
            policies: [introspection({ introspectionEndpoint: main.idp.introspectionEndpoint, cacheMaxTtlSeconds: 1, negativeCacheTtlSeconds: 0 })],
          }),
          httpApi('uncached', upstream.url, OPERATIONS, { policies: [introspection({ cacheMaxEntries: 0, timeoutMs: 300 })] }),
          httpApi('short', upstream.url, OPERATIONS, { policies: [introspection({ issuer: shortLived.idp.issuer, cacheMaxTtlSeconds: 300 })] }),
          httpApi('elsewhere', upstream.url, OPERATIONS, { policies: [introspection({ audiences: ['another-api'] })] }),
          httpApi('crafted', upstream.url, OPERATIONS, {
            policies: [introspection({ issuer: craftedUrl, introspectionEndpoint: `${craftedUrl}/introspect`, negativeCacheTtlSeconds: 0 })],
          }),
          httpApi('refused-port', upstream.url, OPERATIONS, {
            policies: [introspection({ issuer: refused, introspectionEndpoint: `${refused}/token/introspection` })],
          }),
          httpApi('undiscoverable', upstream.url, OPERATIONS, { policies: [introspection({ issuer: refused })] }),
          // JWTs and opaque tokens on one version: jwt-auth verifies the first, leaves the rest.
          httpApi('either', upstream.url, OPERATIONS, {
            policies: [{ policy: 'jwt-auth', config: { issuers: [{ issuer: main.idp.issuer, jwksUri: main.idp.jwksUri, audiences: ['gatehouse'] }] } }, introspection({})],
          }),
          httpApi('chain', upstream.url, OPERATIONS, {
            policies: [
              introspection({}),
              { policy: 'subscription', config: {} },
              { policy: 'rbac', config: { requiredScopes: { listOrders: ['orders:read'], createOrder: ['orders:write'] } } },
            ],
          }),
        ],
        plans: [{ id: 'read-only', name: 'Read only', scopes: ['orders:read'] }],
        consumers: [
          { id: 'storefront', name: 'Storefront', team: 'web', clientIds: ['storefront'], apiKeys: [], subscriptions: [{ api: 'chain', major: 1, plan: 'read-only' }] },
          { id: 'crm-sync', name: 'CRM sync', team: 'crm', clientIds: ['crm-sync'], apiKeys: [], subscriptions: [] },
        ],
      }),
    });
  });

  // Each optional: a failed before hook must not leave servers that keep the process alive.
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await main?.close();
    await shortLived?.close();
    if (crafted !== undefined) await closeServer(crafted);
  });

  beforeEach(() => {
    upstream.seen.length = 0;
    main.mode = 'up';
  });

  function call(api: string, token?: string, method = 'GET'): Promise<Response> {
    if (token !== undefined) presented.push(token);
    return fetch(`${gw.url}/${api}/v1/orders`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  }

  async function assertRejected(response: Response, code = 'auth.token_invalid'): Promise<void> {
    assert.equal(response.status, 401);
    const problem = (await response.json()) as { code: string };
    assert.equal(problem.code, code);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="gatehouse"/);
    if (code === 'auth.token_invalid') assert.match(challenge, /error="invalid_token"/);
    assert.equal(upstream.seen.length, 0, 'the upstream is never called');
  }

  async function assertUnavailable(response: Response): Promise<void> {
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { code: string }).code, 'auth.provider_unavailable');
    assert.equal(response.headers.get('retry-after'), '5');
    assert.equal(upstream.seen.length, 0, 'fails closed: the upstream is never called');
  }

  it('lets an opaque token from the real IdP through and records who called', async () => {
    const token = await main.opaqueToken('storefront');
    assert.ok(!token.includes('.'), 'the dev IdP issued an opaque token, not a JWT');
    const response = await call('orders', token);
    assert.equal(response.status, 200);
    assert.equal(upstream.seen.length, 1);
    assert.equal(upstream.seen[0]!.headers.authorization, undefined, 'the caller token is not forwarded');
    const record = await gw.waitForRecord((r) => r.requestId === response.headers.get('x-request-id'));
    assert.equal(record.decision, 'allow');
  });

  it('answers a missing token with 401 auth.token_missing and a bare challenge', async () => {
    await assertRejected(await call('orders'), 'auth.token_missing');
  });

  it('refuses an unknown token, a JWT it cannot introspect and a non-bearer header, never calling the upstream', async () => {
    await assertRejected(await call('orders', `garbage-${randomUUID()}`));
    await assertRejected(await call('orders', await main.jwt('storefront')));
    await assertRejected(await fetch(`${gw.url}/orders/v1/orders`, { headers: { authorization: 'Basic c3RvcmVmcm9udDpzZWNyZXQ=' } }));
    await assertRejected(await call('orders', 'x'.repeat(5000)));
  });

  it('serves repeats from the cache and shares one in-flight call between concurrent requests', async () => {
    const token = await main.opaqueToken('storefront');
    const before = main.introspections();
    const burst = await Promise.all(Array.from({ length: 8 }, () => call('orders', token)));
    for (const response of burst) assert.equal(response.status, 200);
    assert.equal(main.introspections() - before, 1, 'eight concurrent requests, one introspection');
    for (let i = 0; i < 5; i++) assert.equal((await call('orders', token)).status, 200);
    assert.equal(main.introspections() - before, 1, 'repeats are cache hits');
    assert.equal(upstream.seen.length, 13);
  });

  it('remembers a refusal briefly, so retrying a dead token does not call the IdP each time', async () => {
    const garbage = `garbage-${randomUUID()}`;
    const before = main.introspections();
    await assertRejected(await call('orders', garbage));
    await assertRejected(await call('orders', garbage));
    assert.equal(main.introspections() - before, 1);
  });

  it('refuses a revoked token once the cache TTL (1 s here) has passed, not before', async () => {
    const token = await main.opaqueToken('storefront');
    const before = main.introspections();
    assert.equal((await call('revocable', token)).status, 200);
    await main.revoke('storefront', token);
    assert.equal((await call('revocable', token)).status, 200, 'still cached: the documented staleness bound');
    assert.equal(main.introspections() - before, 1);
    await sleep(1100);
    upstream.seen.length = 0;
    await assertRejected(await call('revocable', token));
    assert.equal(main.introspections() - before, 2);
  });

  it('never serves a cached answer past the token exp, whatever the TTL allows, and refuses the expired token', async () => {
    const minted = Date.now();
    const token = await shortLived.opaqueToken('storefront');
    const before = shortLived.introspections();
    assert.equal((await call('short', token)).status, 200);
    assert.equal((await call('short', token)).status, 200);
    assert.equal(shortLived.introspections() - before, 1);
    await sleep(Math.max(0, minted + 2100 - Date.now()));
    upstream.seen.length = 0;
    await assertRejected(await call('short', token));
    assert.equal(shortLived.introspections() - before, 2, 'the cache entry ended at exp (TTL was 300 s)');
  });

  it('refuses a live token for another audience', async () => {
    await assertRejected(await call('elsewhere', await main.opaqueToken('storefront')));
  });

  it('checks the answer itself: exp, nbf, token type, key binding, issuer and audience', async () => {
    assert.equal((await call('crafted', 'crafted-ok')).status, 200);
    upstream.seen.length = 0;
    for (const token of ['crafted-expired', 'crafted-not-yet', 'crafted-dpop', 'crafted-bound', 'crafted-foreign', 'crafted-wrong-aud', 'crafted-unknown']) {
      await assertRejected(await call('crafted', token));
    }
    // The gateway authenticated as its own client, with the secret resolved from the environment.
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    const credentials = craftedAuthorizations.map((a) =>
      Buffer.from(a.replace(/^Basic /, ''), 'base64').toString('utf8').split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' '))),
    );
    assert.ok(credentials.length >= 8);
    for (const [id, secret] of credentials) assert.deepEqual([id, secret], [GATEWAY_CLIENT, GATEWAY_SECRET]);
  });

  it('fails closed with 503 auth.provider_unavailable when the endpoint refuses connections or cannot be discovered', async () => {
    await assertUnavailable(await call('refused-port', await main.opaqueToken('storefront')));
    await assertUnavailable(await call('undiscoverable', await main.opaqueToken('storefront')));
  });

  it('fails closed with 503 on a 5xx, a malformed answer and a timeout, and recovers when the IdP does', async () => {
    const token = await main.opaqueToken('storefront');
    main.mode = 'error';
    await assertUnavailable(await call('uncached', token));
    await assertUnavailable(await call('crafted', 'crafted-garbled'));
    main.mode = 'hang';
    const started = Date.now();
    await assertUnavailable(await call('uncached', token));
    assert.ok(Date.now() - started < 10_000, 'the 300 ms timeout bounds the wait (the IdP never answers)');
    main.mode = 'up';
    assert.equal((await call('uncached', token)).status, 200);
    const metrics = await (await fetch(`${gw.statusUrl}/metrics`)).text();
    assert.match(metrics, /gatehouse_token_introspections_total\{outcome="failed"\} [1-9]/);
    assert.match(metrics, /gatehouse_token_introspections_total\{outcome="active"\} [1-9]/);
  });

  it('feeds subscription and rbac: the consumer is found by the token client_id and scopes are enforced', async () => {
    const allowed = await call('chain', await main.opaqueToken('storefront'));
    assert.equal(allowed.status, 200);
    assert.equal(upstream.seen[0]!.headers['x-gatehouse-consumer'], 'storefront');
    assert.equal(upstream.seen[0]!.headers['x-gatehouse-subject'], undefined, 'a client_credentials token has no subject');
    const record = await gw.waitForRecord((r) => r.requestId === allowed.headers.get('x-request-id'));
    assert.equal(record.consumer, 'storefront');
    upstream.seen.length = 0;
    // The plan grants no orders:write, whatever the token says.
    assert.equal((await call('chain', await main.opaqueToken('storefront'), 'POST')).status, 403);
    // A token narrowed to products:read lacks orders:read.
    assert.equal((await call('chain', await main.opaqueToken('storefront', 'products:read'))).status, 403);
    // A known client without a subscription.
    const unsubscribed = await call('chain', await main.opaqueToken('crm-sync'));
    assert.equal(unsubscribed.status, 403);
    assert.equal(((await unsubscribed.json()) as { code: string }).code, 'access.not_subscribed');
    assert.equal(upstream.seen.length, 0);
  });

  it('beside jwt-auth: a JWT is verified locally without introspection, an opaque token is introspected, garbage is refused', async () => {
    const before = main.introspections();
    const jwt = await call('either', await main.jwt('storefront'));
    assert.equal(jwt.status, 200, await jwt.text());
    assert.equal(main.introspections(), before, 'the JWT never reached the introspection endpoint');
    const opaque = await call('either', await main.opaqueToken('storefront'));
    assert.equal(opaque.status, 200);
    assert.equal(main.introspections(), before + 1);
    const forged = await call('either', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.');
    assert.equal(forged.status, 401, 'a JWT-shaped token is still jwt-auth\'s to refuse');
    assert.equal(upstream.seen.length, 2);
  });

  it('rejects a snapshot whose client secret variable is unset or whose endpoint is plain http off loopback', async () => {
    const current = gw.gateway.currentHash();
    const bad = (config: Record<string, unknown>) =>
      JSON.stringify(
        buildSnapshot({
          apis: [
            httpApi('orders', upstream.url, OPERATIONS, {
              policies: [{ policy: 'token-introspection', config: { issuer: main.idp.issuer, clientId: GATEWAY_CLIENT, clientSecret: { env: SECRET_ENV }, ...config } }],
            }),
          ],
        }),
      );
    const unset = await gw.gateway.apply(bad({ clientSecret: { env: 'GATEHOUSE_TEST_UNSET_SECRET' } }), 'test');
    assert.equal(unset.applied, false);
    assert.match(unset.error ?? '', /GATEHOUSE_TEST_UNSET_SECRET is not set/);
    const cleartext = await gw.gateway.apply(bad({ introspectionEndpoint: 'http://idp.example.com/introspect' }), 'test');
    assert.equal(cleartext.applied, false);
    assert.match(cleartext.error ?? '', /plain http only on loopback/);
    assert.equal(gw.gateway.currentHash(), current, 'the last good snapshot keeps serving');
  });

  it('writes no token and no client secret to any log line, record or problem', async () => {
    assert.ok(presented.length > 20);
    const lines = [...gw.logLines(), ...gw.accessRecords().map((r) => JSON.stringify(r))];
    assert.ok(
      lines.some((line) => line.includes('token introspection failed')),
      'the failures were logged (so the check below looked at them)',
    );
    const everything = lines.join('\n');
    assert.ok(!everything.includes(GATEWAY_SECRET), 'the client secret is in no log line');
    for (const token of presented) {
      if (token.length >= 16) assert.ok(!everything.includes(token), 'the token is in no log line or record');
    }
  });
});
