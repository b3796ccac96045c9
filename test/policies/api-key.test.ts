/**
 * `api-key` through a real gateway: a valid key reaches the upstream as its consumer; wrong,
 * expired, revoked, missing keys and keys in the query string are refused with zero upstream
 * calls; with `jwt-auth` bound too, either credential works; the key appears in no log.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { apiKeySpec } from '../support/consumers.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const VALID = 'gh_live_A1b2C3d4.PLANTED-valid-secret-7e1d';
const EXPIRED = 'gh_live_E5f6G7h8.PLANTED-expired-secret-2c9a';
const REVOKED = 'gh_live_J9k0L1m2.PLANTED-revoked-secret-5b3f';

const spec = apiKeySpec;

describe('api-key', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    const ops = [{ id: 'listOrders', method: 'GET' as const, path: '/orders' }];
    gw = await startTestGateway({
      snapshot: buildSnapshot({
        apis: [
          httpApi('orders', upstream.url, ops, {
            policies: [
              { policy: 'api-key', config: {} },
              { policy: 'subscription', config: {} },
              { policy: 'rbac', config: { defaultScopes: ['orders:read'] } },
            ],
          }),
          httpApi('either', upstream.url, ops, {
            policies: [
              { policy: 'api-key', config: { required: false } },
              { policy: 'jwt-auth', config: { issuers: [{ issuer: 'https://idp.test.local', jwksUri: 'http://127.0.0.1:1/jwks', audiences: ['gatehouse'] }] } },
              { policy: 'subscription', config: {} },
            ],
          }),
        ],
        plans: [{ id: 'read', name: 'Read', scopes: ['orders:read'] }],
        consumers: [
          {
            id: 'finance-jobs',
            name: 'Finance jobs',
            team: 'finance',
            clientIds: [],
            apiKeys: [spec('k1', VALID), spec('k2', EXPIRED, { expiresAt: '2026-01-01T00:00:00.000Z' }), spec('k3', REVOKED, { revoked: true })],
            subscriptions: [
              { api: 'orders', major: 1, plan: 'read' },
              { api: 'either', major: 1, plan: 'read' },
            ],
          },
        ],
      }),
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.seen.length = 0;
  });

  const call = (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${gw.url}${path}`, { headers });

  async function refused(response: Response, code: string, detail: RegExp): Promise<void> {
    assert.equal(response.status, 401);
    const problem = (await response.json()) as { code: string; detail: string };
    assert.equal(problem.code, code);
    assert.match(problem.detail, detail);
    assert.match(response.headers.get('www-authenticate') ?? '', /^ApiKey realm="gatehouse"/);
    assert.equal(upstream.seen.length, 0);
  }

  it('lets a valid key through as its consumer, without forwarding the key', async () => {
    const response = await call('/orders/v1/orders', { 'x-api-key': VALID });
    assert.equal(response.status, 200);
    assert.equal(upstream.seen[0]!.headers['x-api-key'], undefined);
    assert.equal(upstream.seen[0]!.headers['x-gatehouse-consumer'], 'finance-jobs');
    const record = await gw.waitForRecord((r) => r.requestId === response.headers.get('x-request-id'));
    assert.equal(record.consumer, 'finance-jobs');
  });

  it('refuses a wrong key, a known prefix with a wrong secret, an expired and a revoked key', async () => {
    await refused(await call('/orders/v1/orders', { 'x-api-key': 'gh_live_Zz9Yy8Xx.nope' }), 'auth.token_invalid', /not valid/);
    await refused(await call('/orders/v1/orders', { 'x-api-key': 'gh_live_A1b2C3d4.wrong-secret' }), 'auth.token_invalid', /not valid/);
    await refused(await call('/orders/v1/orders', { 'x-api-key': 'no-dot-at-all' }), 'auth.token_invalid', /not valid/);
    await refused(await call('/orders/v1/orders', { 'x-api-key': EXPIRED }), 'auth.token_invalid', /expired/);
    await refused(await call('/orders/v1/orders', { 'x-api-key': REVOKED }), 'auth.token_invalid', /revoked/);
  });

  it('refuses a missing key, and any key in the query string', async () => {
    await refused(await call('/orders/v1/orders'), 'auth.token_missing', /X-API-Key/);
    await refused(await call(`/orders/v1/orders?api_key=${encodeURIComponent(VALID)}`), 'auth.token_invalid', /never in the URL/);
    await refused(await call(`/orders/v1/orders?page=2&apikey=${encodeURIComponent(VALID)}`, { 'x-api-key': VALID }), 'auth.token_invalid', /never in the URL/);
  });

  it('with jwt-auth bound too, accepts the key alone and asks for a token when there is neither', async () => {
    assert.equal((await call('/either/v1/orders', { 'x-api-key': VALID })).status, 200);
    upstream.seen.length = 0;
    const none = await call('/either/v1/orders');
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { code: string }).code, 'auth.token_missing');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  });

  it('writes no key, valid or not, into any log line or record', async () => {
    await gw.waitForRecords(10);
    const logged = [...gw.logLines(), ...gw.accessRecords().map((r) => JSON.stringify(r))].join('\n');
    for (const secret of ['PLANTED-valid-secret-7e1d', 'PLANTED-expired-secret-2c9a', 'PLANTED-revoked-secret-5b3f']) {
      assert.ok(!logged.includes(secret), `${secret} was logged`);
    }
  });
});
