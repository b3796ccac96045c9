/**
 * `rbac` with a contract: an operation's scopes come from its OpenAPI `security` (else the
 * document's), an OR of requirements each needing all its scopes, granted by both token and
 * plan; `security: []` needs none; config scopes apply only where the contract says nothing;
 * an operation the contract lacks rejects the snapshot. Tokens come from the dev OpenID provider.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { OperationSpec } from '../../contracts/index.js';
import { startDevIdp, type TestIdp } from '../support/dev-idp.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const contract = JSON.parse(readFileSync(new URL('./contracts/orders-3.1.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const OPERATIONS: OperationSpec[] = [
  { id: 'listOrders', method: 'GET', path: '/orders' },
  { id: 'createOrder', method: 'POST', path: '/orders' },
  { id: 'health', method: 'GET', path: '/health' },
];

/** A contract that declares no security anywhere: rbac falls back to its config. */
const silent = {
  openapi: '3.0.3',
  info: { title: 'Catalog', version: '1.0.0' },
  paths: { '/products': { get: { operationId: 'listProducts', responses: { '200': { description: 'Products.' } } } } },
};

describe('rbac with contract scopes', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  let idp: TestIdp;

  before(async () => {
    upstream = await startRecordingUpstream();
    idp = await startDevIdp();
    const auth = { policy: 'jwt-auth', config: { issuers: [{ issuer: idp.idp.issuer, jwksUri: idp.idp.jwksUri, audiences: ['gatehouse'] }] } };
    gw = await startTestGateway({
      snapshot: buildSnapshot({
        apis: [
          httpApi('orders', upstream.url, OPERATIONS, {
            contract,
            policies: [
              auth,
              { policy: 'subscription', config: {} },
              // The contract speaks for these operations: this config must not matter.
              { policy: 'rbac', config: { requiredScopes: { createOrder: ['never:granted'] }, defaultScopes: ['never:granted'] } },
            ],
          }),
          // The same contract under a plan that grants no write scope to the storefront.
          httpApi('returns', upstream.url, OPERATIONS, { contract, policies: [auth, { policy: 'subscription', config: {} }, { policy: 'rbac', config: {} }] }),
          httpApi('catalog', upstream.url, [{ id: 'listProducts', method: 'GET', path: '/products' }], {
            contract: silent,
            policies: [auth, { policy: 'subscription', config: {} }, { policy: 'rbac', config: { defaultScopes: ['products:read'] } }],
          }),
        ],
        plans: [
          { id: 'shop', name: 'Shop', scopes: ['orders:read', 'orders:write', 'products:read'] },
          { id: 'crm', name: 'CRM', scopes: ['orders:read', 'customers:write'] },
          { id: 'read', name: 'Read only', scopes: ['orders:read', 'customers:read'] },
        ],
        consumers: [
          {
            id: 'storefront',
            name: 'Storefront',
            team: 'web',
            clientIds: ['storefront'],
            apiKeys: [],
            subscriptions: [
              { api: 'orders', major: 1, plan: 'shop' },
              { api: 'catalog', major: 1, plan: 'shop' },
              { api: 'returns', major: 1, plan: 'read' },
            ],
          },
          { id: 'crm-sync', name: 'CRM sync', team: 'crm', clientIds: ['crm-sync'], apiKeys: [], subscriptions: [{ api: 'orders', major: 1, plan: 'crm' }] },
          { id: 'service-desk', name: 'Service desk', team: 'support', clientIds: ['service-desk'], apiKeys: [], subscriptions: [{ api: 'orders', major: 1, plan: 'read' }] },
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

  async function call(method: string, path: string, clientId: string, scope?: string): Promise<Response> {
    return fetch(`${gw.url}${path}`, { method, ...(method === 'POST' ? { body: '{}' } : {}), headers: { authorization: `Bearer ${await idp.token(clientId, scope)}` } });
  }

  async function missing(response: Response, scope: string): Promise<void> {
    assert.equal(response.status, 403);
    const problem = (await response.json()) as { code: string; scope: string; detail: string };
    assert.equal(problem.code, 'access.scope_missing');
    assert.equal(problem.scope, scope);
    assert.equal(upstream.seen.length, 0, 'the upstream is never called');
  }

  it('takes an operation\'s scopes from its own security requirement', async () => {
    assert.equal((await call('POST', '/orders/v1/orders', 'storefront')).status, 200);
    upstream.seen.length = 0;
    await missing(await call('POST', '/orders/v1/orders', 'storefront', 'orders:read'), 'orders:write');
  });

  it('passes a caller meeting any one requirement in full (customers:write and orders:read)', async () => {
    assert.equal((await call('POST', '/orders/v1/orders', 'crm-sync')).status, 200);
  });

  it('refuses a caller meeting no requirement, naming the first one\'s missing scope', async () => {
    // service-desk's token and plan carry orders:read and customers:read, no write scope.
    await missing(await call('POST', '/orders/v1/orders', 'service-desk'), 'orders:write');
  });

  it('counts a token\'s scope only where the plan grants it too', async () => {
    // The storefront's token carries orders:write; its plan for this API does not grant it.
    await missing(await call('POST', '/returns/v1/orders', 'storefront'), 'orders:write');
    assert.equal((await call('GET', '/returns/v1/orders', 'storefront')).status, 200);
  });

  it('falls back to the document-level security for operations without their own', async () => {
    assert.equal((await call('GET', '/orders/v1/orders', 'service-desk')).status, 200);
    upstream.seen.length = 0;
    await missing(await call('GET', '/orders/v1/orders', 'storefront', 'products:read'), 'orders:read');
  });

  it('needs no scope where the operation declares security: []', async () => {
    assert.equal((await call('GET', '/orders/v1/health', 'storefront', 'products:read')).status, 200);
  });

  it('uses the config where the contract declares no security', async () => {
    assert.equal((await call('GET', '/catalog/v1/products', 'storefront', 'products:read')).status, 200);
    upstream.seen.length = 0;
    await missing(await call('GET', '/catalog/v1/products', 'storefront', 'orders:read'), 'products:read');
  });

  it('rejects a snapshot routing an operation the contract does not declare', async () => {
    const before = gw.gateway.currentHash();
    const bad = buildSnapshot({
      apis: [httpApi('orders', upstream.url, [...OPERATIONS, { id: 'cancelOrder', method: 'POST', path: '/orders/{id}/cancel' }], { contract, policies: [{ policy: 'rbac', config: {} }] })],
    });
    const result = await gw.gateway.apply(JSON.stringify(bad), 'test');
    assert.equal(result.applied, false);
    assert.match(result.error ?? '', /policy "rbac" failed to build: operation "cancelOrder": the contract has no operation with operationId "cancelOrder"/);
    assert.equal(gw.gateway.currentHash(), before);
  });
});
