/**
 * `jwt-auth` through a real gateway, with the dev OpenID provider as the real IdP and a local
 * key server for crafted tokens: every rejection is 401 with a correct challenge and reaches
 * the upstream zero times; a kid flood refetches the JWKS at most once per cooldown; key
 * rotation at the IdP is picked up without a restart; an unreachable IdP fails closed.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, randomUUID } from 'node:crypto';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startDevIdp, type TestIdp } from '../support/dev-idp.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const AUDIENCE = 'gatehouse';
const LOCAL_ISSUER = 'https://issuer.test.local';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('jwt-auth', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  let testIdp: TestIdp;
  let idp: TestIdp['idp'];
  let keyServer: Server;
  let keyServerUrl: string;
  let jwksFetches = 0;
  let privateKey: CryptoKey;
  let publicJwk: JWK;

  before(async () => {
    upstream = await startRecordingUpstream();
    testIdp = await startDevIdp(AUDIENCE);
    idp = testIdp.idp;

    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'local-1', alg: 'RS256', use: 'sig' };
    keyServer = createServer((_req, res) => {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    keyServerUrl = await listen(keyServer);

    const jwtAuth = {
      policy: 'jwt-auth',
      config: {
        issuers: [
          { issuer: idp.issuer, jwksUri: idp.jwksUri, audiences: [AUDIENCE] },
          { issuer: LOCAL_ISSUER, jwksUri: `${keyServerUrl}/jwks`, audiences: [AUDIENCE], clockSkewSeconds: 5 },
          { issuer: 'https://down.test.local', jwksUri: 'http://127.0.0.1:1/jwks', audiences: [AUDIENCE] },
        ],
        jwksCooldownSeconds: 1,
        maxTokenBytes: 4096,
      },
    };
    const withRoles = {
      policy: 'jwt-auth',
      config: { issuers: [{ issuer: LOCAL_ISSUER, jwksUri: `${keyServerUrl}/jwks`, audiences: [AUDIENCE], roleScopes: { support: ['orders:read'] } }] },
    };
    gw = await startTestGateway({
      snapshot: buildSnapshot({
        apis: [
          httpApi('orders', upstream.url, [{ id: 'listOrders', method: 'GET', path: '/orders' }], { policies: [jwtAuth] }),
          httpApi('discovered', upstream.url, [{ id: 'listOrders', method: 'GET', path: '/orders' }], {
            policies: [{ policy: 'jwt-auth', config: { issuers: [{ issuer: idp.issuer, audiences: [AUDIENCE] }] } }],
          }),
          // Same issuer and key, another audience: a token for `orders` is not one for this API.
          httpApi('other', upstream.url, [{ id: 'listOrders', method: 'GET', path: '/orders' }], {
            policies: [{ policy: 'jwt-auth', config: { issuers: [{ issuer: LOCAL_ISSUER, jwksUri: `${keyServerUrl}/jwks`, audiences: ['another-api'], clockSkewSeconds: 5 }] } }],
          }),
          httpApi('roles', upstream.url, [{ id: 'listOrders', method: 'GET', path: '/orders' }], {
            policies: [withRoles, { policy: 'rbac', config: { defaultScopes: ['orders:read'] } }],
          }),
        ],
      }),
    });
  });

  after(async () => {
    await gw.close();
    await upstream.close();
    await testIdp.close();
    keyServer.closeAllConnections();
    await new Promise((r) => keyServer.close(r));
  });

  beforeEach(() => {
    upstream.seen.length = 0;
  });

  const idpToken = (): Promise<string> => testIdp.token('storefront');

  function localToken(claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: LOCAL_ISSUER, aud: AUDIENCE, sub: 'svc-1', client_id: 'storefront', iat: now, exp: now + 300, scope: 'orders:read', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'local-1', typ: 'at+jwt', ...header })
      .sign(privateKey);
  }

  function call(authorization?: string): Promise<Response> {
    return fetch(`${gw.url}/orders/v1/orders`, { headers: authorization === undefined ? {} : { authorization } });
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

  it('lets a token from the real IdP through, and records who called', async () => {
    const token = await idpToken();
    const response = await call(`Bearer ${token}`);
    assert.equal(response.status, 200);
    assert.equal(upstream.seen[0]!.headers.authorization, undefined, 'the caller token is not forwarded');
    const requestId = response.headers.get('x-request-id');
    const record = await gw.waitForRecord((r) => r.requestId === requestId);
    assert.equal(record.subject, 'storefront');
    const everything = [...gw.logLines(), ...gw.accessRecords().map((r) => JSON.stringify(r))].join('\n');
    assert.ok(!everything.includes(token), 'the token is in no log line or record');
  });

  it('answers a missing token with 401 auth.token_missing and a bare challenge', async () => {
    await assertRejected(await call(), 'auth.token_missing');
  });

  it('refuses alg none', async () => {
    const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iss: LOCAL_ISSUER, aud: AUDIENCE, exp: now + 60 })}.`;
    await assertRejected(await call(`Bearer ${unsigned}`));
  });

  it('refuses HS256 signed with the RSA public key (algorithm confusion)', async () => {
    const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const pem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' });
    const input = `${encode({ alg: 'HS256', kid: 'local-1' })}.${encode({ iss: LOCAL_ISSUER, aud: AUDIENCE, exp: now + 60 })}`;
    const forged = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    await assertRejected(await call(`Bearer ${forged}`));
  });

  for (const embedded of ['jwk', 'jku', 'x5u', 'x5c'] as const) {
    it(`refuses a token carrying its own key (${embedded}), never following it`, async () => {
      const value = embedded === 'jwk' ? publicJwk : embedded === 'x5c' ? ['MIIB'] : `${keyServerUrl}/evil`;
      const before = jwksFetches;
      await assertRejected(await call(`Bearer ${await localToken({}, { [embedded]: value })}`));
      assert.equal(jwksFetches, before);
    });
  }

  const badClaims: Array<[string, Record<string, unknown>]> = [
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 600 }],
    ['a token not yet valid', { nbf: Math.floor(Date.now() / 1000) + 600 }],
    ['a wrong issuer', { iss: 'https://someone-else.example' }],
    ['a wrong audience', { aud: 'another-api' }],
    ['a missing exp', { exp: undefined }],
    ['an ID token', { nonce: 'n-0S6_WzA2Mj', at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' }],
  ];
  for (const [name, claims] of badClaims) {
    it(`refuses ${name}`, async () => {
      await assertRejected(await call(`Bearer ${await localToken(claims)}`));
    });
  }

  it('refuses an oversize token and a non-bearer header', async () => {
    await assertRejected(await call(`Bearer ${await localToken({ padding: 'x'.repeat(5000) })}`));
    await assertRejected(await call('Basic c3RvcmVmcm9udDpzZWNyZXQ='));
  });

  it('accepts a well-formed local token and serves repeats from the verified-token cache', async () => {
    const verified = async (): Promise<number> =>
      Number(/gatehouse_jwt_verifications_total\{outcome="verified"\} (\d+)/.exec(await (await fetch(`${gw.statusUrl}/metrics`)).text())?.[1] ?? 0);
    const token = await localToken({ jti: 'cache-probe' });
    const before = await verified();
    const fetchesBefore = jwksFetches;
    for (let i = 0; i < 6; i++) assert.equal((await call(`Bearer ${token}`)).status, 200);
    assert.equal(await verified(), before + 1, 'one signature check for six calls with the same token');
    assert.equal(jwksFetches, fetchesBefore);
  });

  it('on one keep-alive connection, remembers a token only for its own binding and never past exp', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string, authorization: string): Promise<{ status: number; reused: boolean }> =>
      new Promise((resolve, reject) => {
        const req = request(`${gw.url}${path}`, { agent, headers: { authorization } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end();
      });
    const verified = async (): Promise<number> =>
      Number(/gatehouse_jwt_verifications_total\{outcome="verified"\} (\d+)/.exec(await (await fetch(`${gw.statusUrl}/metrics`)).text())?.[1] ?? 0);
    try {
      // Expires in one to two seconds; the issuer allows 5 s of skew, so a fresh check still
      // accepts it after that.
      const exp = Math.floor(Date.now() / 1000) + 2;
      const token = `Bearer ${await localToken({ jti: 'connection-memo', exp })}`;
      const before = await verified();
      assert.deepEqual(await get('/orders/v1/orders', token), { status: 200, reused: false });
      assert.deepEqual(await get('/orders/v1/orders', token), { status: 200, reused: true });
      assert.equal(await verified(), before + 1, 'the repeat on the connection is not checked again');
      // The same connection, the same header, another API's binding: judged by that binding.
      assert.deepEqual(await get('/other/v1/orders', token), { status: 401, reused: true });
      assert.deepEqual(await get('/orders/v1/orders', token), { status: 200, reused: true });
      await new Promise((r) => setTimeout(r, exp * 1000 + 150 - Date.now()));
      const lapsed = await verified();
      assert.deepEqual(await get('/orders/v1/orders', token), { status: 200, reused: true });
      assert.equal(await verified(), lapsed + 1, 'past exp the connection\'s memory is not used: the token is checked again');
    } finally {
      agent.destroy();
    }
  });

  it('refetches the JWKS at most once per cooldown when flooded with unknown key ids', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // let any earlier cooldown pass
    // Signed first, so the flood itself is short.
    const tokens = await Promise.all(Array.from({ length: 40 }, () => localToken({ jti: randomUUID() }, { kid: randomUUID() })));
    const before = jwksFetches;
    const started = performance.now();
    // One after another, so every call could fetch: sent at once, calls share jose's fetch in
    // flight (without a cooldown, 19 fetches for 40 at once against 40 one after another).
    const flood: Response[] = [];
    for (const token of tokens) flood.push(await call(`Bearer ${token}`));
    const floodMs = performance.now() - started;
    for (const response of flood) assert.equal(response.status, 401);
    // One fetch per 1-s cooldown the flood lasted: on a starved machine it can outlast one.
    const allowed = 1 + Math.floor(floodMs / 1000);
    assert.ok(jwksFetches - before <= allowed, `${jwksFetches - before} JWKS fetches for 40 unknown kids in ${Math.round(floodMs)} ms`);
    // The gateway counts the same fetches the key server saw.
    const metrics = await (await fetch(`${gw.statusUrl}/metrics`)).text();
    const counted = Number(/gatehouse_jwks_fetches_total\{issuer="https:\/\/issuer\.test\.local"\} (\d+)/.exec(metrics)?.[1]);
    assert.equal(counted, jwksFetches);
    assert.match(metrics, /gatehouse_policy_decisions_total\{code="auth.token_invalid"\} \d+/);
  });

  it('picks up a key rotation at the IdP without a restart', async () => {
    assert.equal((await call(`Bearer ${await idpToken()}`)).status, 200);
    await idp.rotateKeys();
    await new Promise((r) => setTimeout(r, 1100)); // the cooldown after the last fetch
    const rotated = await idpToken();
    assert.equal((await call(`Bearer ${rotated}`)).status, 200);
  });

  it('finds the keys by OpenID discovery when no JWKS URI is configured', async () => {
    const response = await fetch(`${gw.url}/discovered/v1/orders`, { headers: { authorization: `Bearer ${await idpToken()}` } });
    assert.equal(response.status, 200);
    const forged = await localToken({ iss: idp.issuer });
    const refusedResponse = await fetch(`${gw.url}/discovered/v1/orders`, { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(refusedResponse.status, 401);
  });

  it('maps a roles claim to scopes where configured', async () => {
    const ask = async (claims: Record<string, unknown>): Promise<number> =>
      (await fetch(`${gw.url}/roles/v1/orders`, { headers: { authorization: `Bearer ${await localToken({ scope: '', ...claims })}` } })).status;
    assert.equal(await ask({ roles: ['support'] }), 200);
    assert.equal(await ask({ roles: ['visitor'] }), 403);
    assert.equal(await ask({}), 403);
  });

  it('fails closed with 503 auth.provider_unavailable when the issuer keys cannot be fetched', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: 'https://down.test.local', aud: AUDIENCE, exp: now + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .sign(privateKey);
    const response = await call(`Bearer ${token}`);
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { code: string }).code, 'auth.provider_unavailable');
    assert.equal(upstream.seen.length, 0);
  });
});
