/**
 * @module Issue 6's acceptance end to end, over real HTTP: a control plane (SQLite, dev OpenID
 * provider, notification dispatcher), a gateway node fed by it whose access records go through
 * the durable spool to the control plane, an upstream, and a consumer's webhook receiver.
 * A minor version removing a response field is refused with the report; a new major with the
 * same change (and an operation removed) is accepted; its impact names exactly the consumers
 * whose calls hit what breaks; once it is published and the old version deprecated, the
 * subscribed consumer's receiver gets a notification signed with its secret naming the sunset;
 * the gateway adds Deprecation, Sunset and the successor link; after retirement it answers 410.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { Logger } from '../../control-plane/errors.js';
import { createGatewayRoutes } from '../../control-plane/routes/gateway.js';
import { ADMIN_ROUTES } from '../../control-plane/routes/index.js';
import { createAccessShipper } from '../../gateway/access-shipper.js';
import { createAccessSpool } from '../../gateway/access-spool.js';
import { createControlPlaneSnapshotSource } from '../../gateway/snapshot/control-plane-source.js';
import { createControlPlaneTokenSource } from '../../gateway/snapshot/control-plane-token.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { startWebhookReceiver } from '../support/receivers.js';
import { startRecordingUpstream } from '../support/upstream.js';
import { until } from '../support/until.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };
const API = '/api/v1/apis/erp-orders';

/** Orders: list (with `total` in each item unless `withTotal` is false) and, unless `withUpdate` is false, update. */
function ordersContract(version: string, { withTotal = true, withUpdate = true } = {}): Record<string, unknown> {
  const item = { type: 'object', required: ['id', 'status'], properties: { id: { type: 'string' }, status: { type: 'string' }, ...(withTotal ? { total: { type: 'number' } } : {}) } };
  const problem = { description: 'A problem.', content: { 'application/problem+json': { schema: { type: 'object' } } } };
  const paths: Record<string, unknown> = {
    '/orders': {
      get: {
        operationId: 'listOrders',
        responses: { '200': { description: 'Orders.', content: { 'application/json': { schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: item } } } } } }, '401': problem },
      },
    },
  };
  if (withUpdate) {
    paths['/orders/{orderId}'] = {
      patch: {
        operationId: 'updateOrder',
        parameters: [{ name: 'orderId', in: 'path', required: true, schema: { type: 'string', maxLength: 40 } }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { status: { type: 'string', maxLength: 20 } }, additionalProperties: false } } } },
        responses: { '200': { description: 'Changed.' }, '401': problem },
      },
    };
  }
  return { openapi: '3.1.0', info: { title: 'Orders', version }, security: [{ apiKey: [] }], components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } }, paths };
}

describe('contract governance end to end', () => {
  it('refuses a breaking minor, accepts the major, names the impacted consumers, notifies the subscriber signed with the sunset, and the gateway deprecates then retires v1', async (t) => {
    const upstream = await startRecordingUpstream();
    const hooks = await startWebhookReceiver(t);
    const gatewayRoutes = createGatewayRoutes({ debounceMs: 10 });
    const cp = (await startTestControlPlane(t, 'sqlite', {
      routes: [...ADMIN_ROUTES, gatewayRoutes.routes],
      notifications: { webhook: { allowLoopback: true, allowList: [] }, retry: { baseMs: 50, maxMs: 500, giveUpAfterMs: 60_000 }, pollMs: 50 },
    })) as TestControlPlane;
    const spoolDir = await mkdtemp(join(tmpdir(), 'gatehouse-e2e-spool-'));
    const tokens = createControlPlaneTokenSource({ issuer: cp.idp.idp.issuer, clientId: 'gatehouse-gateway', clientSecret: 'demo-gateway-secret', logger: quiet });
    const spool = createAccessSpool({ dir: spoolDir, logger: quiet, rollIntervalMs: 100 });
    const shipper = createAccessShipper({ spool, controlPlaneUrl: cp.url, nodeId: 'gw-1', logger: quiet, getToken: (signal) => tokens.get(signal), invalidateToken: () => tokens.invalidate(), backoffBaseMs: 50, backoffMaxMs: 500 });
    let gw: TestGateway | undefined;
    t.after(async () => {
      await gw?.close();
      await spool.close();
      await shipper.close();
      await gatewayRoutes.close();
      await cp.close();
      await upstream.close();
      await rm(spoolDir, { recursive: true, force: true });
    });
    gw = await startTestGateway({
      snapshotSource: (logger) => createControlPlaneSnapshotSource({ controlPlaneUrl: cp.url, nodeId: 'gw-1', tokens, logger }),
      accessLogs: () => [spool],
    });
    const ok = async (reply: ReturnType<TestControlPlane['call']>, status: number) => {
      const res = await reply;
      assert.equal(res.status, status, res.text);
      return res;
    };
    const act = async (who: string, path: string, action: string, body?: unknown) => {
      const etag = (await ok(cp.call('ada.auditor', 'GET', path), 200)).headers.get('etag')!;
      return cp.call(who, 'POST', `${path}/${action}`, body, { 'if-match': etag });
    };

    // The landscape: erp-orders 1.0.0 published; store-app (webhook) and pos-app subscribed.
    await ok(cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp-team', name: 'ERP' }), 201);
    await ok(cp.call('adam.admin', 'POST', '/api/v1/plans', { id: 'standard', name: 'Standard', scopes: [] }), 201);
    await ok(cp.call('olivia.owner', 'POST', '/api/v1/apis', { slug: 'erp-orders', title: 'Orders', team: 'erp-team', upstream: { kind: 'http', baseUrl: upstream.url, settings: {}, connectTimeoutMs: 1000, responseTimeoutMs: 2000 } }), 201);
    const policies = [{ policy: 'api-key', config: {} }, { policy: 'subscription', config: {} }];
    await ok(cp.call('olivia.owner', 'POST', `${API}/versions`, { version: '1.0.0', contract: ordersContract('1.0.0'), policies }), 201);
    for (const [who, action] of [['olivia.owner', 'submit'], ['rafael.reviewer', 'approve'], ['olivia.owner', 'publish']] as const) await ok(act(who, `${API}/versions/1.0.0`, action), 200);
    const keys: Record<string, string> = {};
    const secret = (await ok(cp.call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'store-app', name: 'Store app', team: 'erp-team', webhookUrl: `${hooks.url}/store-app` }), 201)).json.webhookSecret as string;
    await ok(cp.call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'pos-app', name: 'Point of sale', team: 'erp-team' }), 201);
    for (const consumer of ['store-app', 'pos-app']) {
      keys[consumer] = (await ok(cp.call('olivia.owner', 'POST', `/api/v1/consumers/${consumer}/credentials`), 201)).json.key as string;
      const sub = (await ok(cp.call('olivia.owner', 'POST', '/api/v1/subscriptions', { consumer, api: 'erp-orders', major: 1, plan: 'standard' }), 201)).json.id as string;
      await ok(act('olivia.owner', `/api/v1/subscriptions/${sub}`, 'approve'), 200);
    }

    // Traffic through the gateway: store-app updates orders, pos-app lists them.
    const call = (consumer: string, method: string, path: string) =>
      fetch(`${gw!.url}/erp-orders/v1${path}`, { method, headers: { 'x-api-key': keys[consumer]!, 'content-type': 'application/json' }, ...(method === 'PATCH' ? { body: '{"status":"packed"}' } : {}) });
    await until('both subscriptions enforced', async () => {
      const [a, b] = await Promise.all([call('store-app', 'PATCH', '/orders/42'), call('pos-app', 'GET', '/orders')]);
      await Promise.all([a.body?.cancel(), b.body?.cancel()]);
      return a.status === 200 && b.status === 200 ? true : undefined;
    });
    for (let i = 0; i < 3; i++) await (await call('store-app', 'PATCH', `/orders/${100 + i}`)).body?.cancel();
    // The records travel spool → control plane.
    await until('access records shipped', async () => {
      const rows = await cp.store.db.selectFrom('access_records').select(['consumer', 'operation', 'status']).where('status', '=', 200).execute();
      return rows.filter((r) => r.consumer === 'store-app').length >= 4 && rows.some((r) => r.consumer === 'pos-app') ? rows : undefined;
    });

    // A minor removing a response field is refused with the report.
    await ok(cp.call('olivia.owner', 'POST', `${API}/versions`, { version: '1.1.0', contract: ordersContract('1.1.0', { withTotal: false }), policies }), 201);
    const refused = await act('olivia.owner', `${API}/versions/1.1.0`, 'submit');
    assert.equal(refused.status, 422, refused.text);
    assert.equal(refused.json.code, 'version.breaking_change');
    assert.equal(refused.json.against, '1.0.0');
    assert.deepEqual(refused.json.changes.map((c: { rule: string; operationId: string }) => [c.rule, c.operationId]), [['property-removed', 'listOrders']]);

    // The new major with the same change, and updateOrder removed, is accepted; its report lists what breaks.
    await ok(cp.call('olivia.owner', 'POST', `${API}/versions`, { version: '2.0.0', contract: ordersContract('2.0.0', { withTotal: false, withUpdate: false }), policies }), 201);
    await ok(act('olivia.owner', `${API}/versions/2.0.0`, 'submit'), 200);
    const review = (await ok(cp.call('rafael.reviewer', 'GET', `${API}/versions/2.0.0/review`), 200)).json;
    assert.equal(review.lint.errors, 0);
    assert.deepEqual(review.diff.changes.filter((c: { breaking: boolean }) => c.breaking).map((c: { rule: string }) => c.rule).sort(), ['path-removed', 'property-removed']);
    const byRule = Object.fromEntries(review.impact.breaking.changes.map((c: { rule: string; consumers: { consumer: string; calls: number }[] }) => [c.rule, c.consumers.map((x) => [x.consumer, x.calls])]));
    // Every call the gateway recorded counts (the early ones refused before the subscription reached it too).
    const shipped = await cp.store.db.selectFrom('access_records').select(['consumer', 'operation']).execute();
    const calls = (consumer: string, operation: string) => shipped.filter((r) => r.consumer === consumer && r.operation === operation).length;
    assert.ok(calls('store-app', 'updateOrder') >= 4);
    assert.deepEqual(byRule, { 'path-removed': [['store-app', calls('store-app', 'updateOrder')]], 'property-removed': [['pos-app', calls('pos-app', 'listOrders')]] }, 'exactly the callers of what breaks');

    await ok(act('rafael.reviewer', `${API}/versions/2.0.0`, 'approve'), 200);
    await ok(act('olivia.owner', `${API}/versions/2.0.0`, 'publish'), 200);
    const sunset = new Date(Date.now() + 2_500).toISOString();
    await ok(act('olivia.owner', `${API}/versions/1.0.0`, 'deprecate', { sunset, successor: '2.0.0' }), 200);

    // The subscriber's receiver gets the deprecation, signed with its secret, naming the sunset.
    const notice = await until('deprecation webhook', async () => hooks.received.find((hook) => hook.body.includes('"version.deprecated"')));
    const event = new Webhook(secret).verify(notice.body, notice.headers as Record<string, string>) as { type: string; data: { api: string; version: string; sunset: string; successor: string; impacted: boolean } };
    assert.deepEqual(event.type, 'version.deprecated');
    assert.deepEqual([event.data.api, event.data.version, event.data.sunset, event.data.successor, event.data.impacted], ['erp-orders', '1.0.0', sunset, '2.0.0', true]);

    // The gateway marks v1's answers.
    const marked = await until('deprecation headers at the gateway', async () => {
      const res = await call('pos-app', 'GET', '/orders');
      await res.body?.cancel();
      return res.headers.get('sunset') === null ? undefined : res;
    });
    assert.equal(marked.status, 200);
    assert.match(marked.headers.get('deprecation') ?? '', /^@\d+$/);
    assert.equal(marked.headers.get('sunset'), new Date(sunset).toUTCString());
    assert.equal(marked.headers.get('link'), '</erp-orders/v2>; rel="successor-version"');

    // After the sunset, retirement: the gateway answers 410 with the successor link.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(sunset) - Date.now() + 50)));
    await ok(act('olivia.owner', `${API}/versions/1.0.0`, 'retire'), 200);
    const gone = await until('410 at the gateway', async () => {
      const res = await call('pos-app', 'GET', '/orders');
      return res.status === 410 ? res : (await res.body?.cancel(), undefined);
    });
    assert.equal(((await gone.json()) as { code: string }).code, 'version.retired');
    assert.equal(gone.headers.get('link'), '</erp-orders/v2>; rel="successor-version"');
    await until('retirement webhook', async () => hooks.received.find((hook) => hook.body.includes('"version.retired"')));
  });
});
