/**
 * `subscription` and `rbac` after `jwt-auth`, with the dev OpenID provider as the IdP: unknown
 * clients, missing subscriptions and missing scopes are refused with zero upstream calls; a
 * token scope the plan does not grant counts for nothing; the verified identity travels
 * upstream in gateway-owned headers that callers cannot spoof.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startDevIdp, type TestIdp } from '../support/dev-idp.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

describe('subscription and rbac', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  let idp: TestIdp;

  before(async () => {
    upstream = await startRecordingUpstream();
    idp = await startDevIdp();
    gw = await startTestGateway({
      snapshot: buildSnapshot({
        apis: [
          httpApi(
            'orders',
            upstream.url,
            [
              { id: 'listOrders', method: 'GET', path: '/orders' },
              { id: 'createOrder', method: 'POST', path: '/orders' },
            ],
            {
              policies: [
                { policy: 'jwt-auth', config: { issuers: [{ issuer: idp.idp.issuer, jwksUri: idp.idp.jwksUri, audiences: ['gatehouse'] }] } },
                { policy: 'subscription', config: {} },
                { policy: 'rbac', config: { requiredScopes: { listOrders: ['orders:read'], createOrder: ['orders:write'] } } },
              ],
            },
          ),
        ],
        plans: [{ id: 'read-only', name: 'Read only', scopes: ['orders:read'] }],
        consumers: [
          { id: 'storefront', name: 'Storefront', team: 'web', clientIds: ['storefront'], apiKeys: [], subscriptions: [{ api: 'orders', major: 1, plan: 'read-only' }] },
          { id: 'crm-sync', name: 'CRM sync', team: 'crm', clientIds: ['crm-sync'], apiKeys: [], subscriptions: [] },
        ],
      }),
    });
  });

  after(async () => {
    await gw.close();
    await upstream.close();
    await idp.close();
  });

  beforeEach(() => {
    upstream.seen.length = 0;
  });

  const token = (clientId: string, scope?: string): Promise<string> => idp.token(clientId, scope);

  async function refused(response: Response, code: string): Promise<Record<string, unknown>> {
    assert.equal(response.status, 403);
    const problem = (await response.json()) as Record<string, unknown>;
    assert.equal(problem.code, code);
    assert.equal(upstream.seen.length, 0, 'the upstream is never called');
    return problem;
  }

  it('lets a subscribed consumer through and forwards its verified identity, not the spoofed one', async () => {
    const response = await fetch(`${gw.url}/orders/v1/orders`, {
      headers: { authorization: `Bearer ${await token('storefront')}`, 'x-gatehouse-consumer': 'finance-jobs', 'x-consumer-id': 'finance-jobs' },
    });
    assert.equal(response.status, 200);
    const sent = upstream.seen[0]!.headers;
    assert.equal(sent['x-gatehouse-consumer'], 'storefront');
    assert.equal(sent['x-gatehouse-subject'], 'storefront');
    assert.equal(sent['x-consumer-id'], undefined);
    const record = await gw.waitForRecord((r) => r.requestId === response.headers.get('x-request-id'));
    assert.equal(record.consumer, 'storefront');
  });

  it('refuses a scope the token has but the plan does not grant', async () => {
    const problem = await refused(
      await fetch(`${gw.url}/orders/v1/orders`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${await token('storefront')}` } }),
      'access.scope_missing',
    );
    assert.equal(problem.scope, 'orders:write');
  });

  it('refuses a token without the operation scope, naming it', async () => {
    const problem = await refused(
      await fetch(`${gw.url}/orders/v1/orders`, { headers: { authorization: `Bearer ${await token('storefront', 'products:read')}` } }),
      'access.scope_missing',
    );
    assert.match(String(problem.detail), /orders:read/);
  });

  it('refuses a registered consumer without a subscription to this API version', async () => {
    await refused(await fetch(`${gw.url}/orders/v1/orders`, { headers: { authorization: `Bearer ${await token('crm-sync')}` } }), 'access.not_subscribed');
  });

  it('refuses a client that is no consumer at all', async () => {
    await refused(await fetch(`${gw.url}/orders/v1/orders`, { headers: { authorization: `Bearer ${await token('service-desk')}` } }), 'access.unknown_consumer');
  });

  it('rejects a snapshot whose subscription names an unknown plan, or two consumers sharing a client id', async () => {
    const before = gw.gateway.currentHash();
    const bad = buildSnapshot({
      apis: [httpApi('orders', upstream.url, [{ id: 'listOrders', method: 'GET', path: '/orders' }])],
      plans: [],
      consumers: [
        { id: 'a', name: 'A', team: 't', clientIds: ['same'], apiKeys: [], subscriptions: [{ api: 'orders', major: 1, plan: 'gold' }] },
        { id: 'b', name: 'B', team: 't', clientIds: ['same'], apiKeys: [], subscriptions: [] },
      ],
    });
    const result = await gw.gateway.apply(JSON.stringify(bad), 'test');
    assert.equal(result.applied, false);
    assert.match(result.error ?? '', /unknown plan "gold"/);
    assert.match(result.error ?? '', /client id "same" already belongs to a/);
    assert.equal(gw.gateway.currentHash(), before);
  });
});
