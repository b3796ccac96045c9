/**
 * @module `async-delivery` through a real gateway with the embedded (fsynced log) queue in front
 * of the Odoo simulator: 202 + Location, status transitions to delivered with the upstream's
 * status and body, retries while Odoo is down, the status resource scoped to its consumer,
 * `Prefer: respond-async` on an on-request operation, refusals recorded with their decision,
 * dead letters held in order, listed, inspected, replayed after a fix and discarded by an admin,
 * an attempt whose outcome was lost resolved by the probe without a second send, and metrics.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiSpec } from '../../contracts/index.js';
import { createFileAsyncStore } from '../../gateway/async/file-store.js';
import type { AsyncStore } from '../../gateway/async/store.js';
import { createAppLogger } from '../../gateway/logging.js';
import type { AccessRecord } from '../../policies/index.js';
import { queuedOrder } from '../support/async-records.js';
import { twoKeyedConsumers } from '../support/consumers.js';
import { buildSnapshot, singleVersionApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { startOdooSimulator, type OdooSimulatorHandle } from '../simulators/index.js';
import { until } from '../support/until.js';

const STOREFRONT_KEY = 'gh_live_Async001.PLANTED-storefront-secret-1';
const CRM_KEY = 'gh_live_Async002.PLANTED-crm-secret-2';
const ODOO_KEY = 'PLANTED-odoo-key-async-5d1c';
const ADMIN_TOKEN = 'PLANTED-admin-token-0123456789abcdef';

const probeBy = (model: string, field: string, pointer: string): Record<string, unknown> => ({
  method: 'POST',
  path: `/${model}/search`,
  body: { domain: [[field, '=', { $pointer: pointer }]] },
});

function erpApi(odooUrl: string): ApiSpec {
  return singleVersionApi(
    'erp',
    { kind: 'odoo-json2', baseUrl: `${odooUrl}/json/2`, connectTimeoutMs: 500, responseTimeoutMs: 2000, settings: { database: 'retail', apiKey: { env: 'ODOO_KEY' } } },
    [
      { id: 'createOrder', method: 'POST', path: '/sale.order/create' },
      { id: 'createPartner', method: 'POST', path: '/res.partner/create' },
      { id: 'searchOrders', method: 'POST', path: '/sale.order/search_read' },
    ],
    {
      policies: [
        { policy: 'api-key', config: {} },
        { policy: 'subscription', config: {} },
        { policy: 'idempotency', config: {} },
        {
          policy: 'async-delivery',
          config: {
            operations: {
              createOrder: { orderingKey: '/vals_list/0/client_order_ref', maxAttempts: 50, baseDelayMs: 20, maxDelayMs: 100, probe: probeBy('sale.order', 'client_order_ref', '/vals_list/0/client_order_ref') },
              createPartner: { mode: 'on-request', orderingKey: 'header:X-Customer-Ref', baseDelayMs: 20, maxDelayMs: 100 },
            },
          },
        },
      ],
    },
  );
}

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

async function call(base: string, method: string, path: string, options: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== null) headers['x-api-key'] = options.key ?? STOREFRONT_KEY;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

const order = (ref: string, partner = 10): Record<string, unknown> => ({ vals_list: [{ partner_id: partner, client_order_ref: ref }] });

describe('async delivery (embedded queue)', () => {
  let odoo: OdooSimulatorHandle;
  let gw: TestGateway;
  let dir: string;
  let store: AsyncStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-async-'));
    odoo = await startOdooSimulator({ database: 'retail', apiKeys: [], users: [{ uid: 2, login: 'bot@shop.example', apiKey: ODOO_KEY }] });
    gw = await startTestGateway({
      snapshot: buildSnapshot({ apis: [erpApi(odoo.url)], plans: [{ id: 'standard', name: 'Standard', scopes: [] }], consumers: twoKeyedConsumers(['erp'], { storefront: STOREFRONT_KEY, crm: CRM_KEY }) }),
      secrets: { ODOO_KEY },
      adminToken: ADMIN_TOKEN,
      asyncStore: (logger) => (store = createFileAsyncStore({ dir, logger })),
    });
  });

  after(async () => {
    await gw?.close();
    await store?.close();
    await odoo?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const status = (location: string, key?: string | null): Promise<Answer> => call(gw.url, 'GET', location, { key });
  const admin = (method: string, path: string, token = ADMIN_TOKEN): Promise<Answer> =>
    fetch(`${gw.statusUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` } }).then(async (res) => ({ status: res.status, headers: res.headers, json: JSON.parse(await res.text()) as unknown }));
  const settled = (location: string, wanted: string): Promise<any> =>
    until(`${location} to be ${wanted}`, async () => {
      const answer = await status(location);
      return answer.json.status === wanted ? answer.json : undefined;
    });
  const orderCreates = (ref: string): number => odoo.calls.filter((c) => c.path.endsWith('/sale.order/create') && c.body.includes(`"${ref}"`)).length;

  it('answers 202 with the Location of a status resource, then delivers: the status shows the upstream status and body', async () => {
    const accepted = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: order('WEB-1001') });
    assert.equal(accepted.status, 202);
    const location = accepted.headers.get('location')!;
    assert.match(location, /^\/erp\/v1\/_requests\/[0-9a-f]{32}$/);
    assert.equal(accepted.json.status, 'pending');
    assert.equal(accepted.json.location, location);
    assert.equal(accepted.headers.get('preference-applied'), null, 'not asked for');

    const delivered = await settled(location, 'delivered');
    const created = odoo.records('sale.order').find((o) => o.client_order_ref === 'WEB-1001')!;
    assert.ok(created !== undefined);
    assert.equal(delivered.upstream.status, 200);
    assert.deepEqual(delivered.upstream.body, [created.id]);
    assert.equal(delivered.upstream.confirmedBy, 'response');
    assert.equal(delivered.attempts, 1);
    assert.equal(delivered.operation, 'createOrder');
    assert.equal(orderCreates('WEB-1001'), 1);

    // The delivery carried the gateway's credential and the transaction id, never the caller's key.
    const sent = odoo.calls.find((c) => c.path.endsWith('/sale.order/create') && c.body.includes('WEB-1001'))!;
    assert.equal(sent.headers.authorization, `bearer ${ODOO_KEY}`);
    assert.equal(sent.headers['idempotency-key'], location.split('/').pop());
    assert.equal(sent.headers['x-gatehouse-transaction'], location.split('/').pop());
    assert.equal(sent.headers['x-api-key'], undefined);

    const records = await until('the delivery record', () => {
      const all = gw.accessRecords();
      return all.some((r) => r.decision === 'async.delivered' && r.traceId === all.find((a) => a.status === 202)?.traceId) ? all : undefined;
    });
    const accept = records.find((r) => r.status === 202)!;
    assert.equal(accept.decision, 'allow');
    const delivery = records.find((r) => r.decision === 'async.delivered' && r.traceId === accept.traceId)!;
    assert.equal(delivery.upstreamStatus, 200);
    assert.equal(delivery.consumer, 'storefront');
    assert.equal(delivery.operation, 'createOrder');
  });

  it('keeps retrying while Odoo is down, showing `failed` with the error, and delivers once it is back', async () => {
    await odoo.goDown();
    try {
      const accepted = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: order('WEB-1002') });
      assert.equal(accepted.status, 202, 'accepted although the ERP is down');
      const location = accepted.headers.get('location')!;
      const failed = await until('a failed attempt', async () => {
        const answer = await status(location);
        return answer.json.status === 'failed' && answer.json.attempts >= 2 ? answer.json : undefined;
      });
      assert.equal(failed.error.code, 'upstream.unavailable');
      assert.ok(typeof failed.nextAttemptAt === 'string');
      await odoo.comeUp();
      const delivered = await settled(location, 'delivered');
      assert.equal(delivered.upstream.status, 200);
      assert.equal(orderCreates('WEB-1002'), 1);
    } finally {
      await odoo.comeUp();
    }
  });

  it('shows a status only to the consumer that made the request: others get 404, no credential 401', async () => {
    const accepted = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: order('WEB-1003') });
    const location = accepted.headers.get('location')!;
    const other = await status(location, CRM_KEY);
    assert.equal(other.status, 404);
    assert.equal(other.json.code, 'async.not_found');
    const unknown = await status(location.replace(/[0-9a-f]{8}$/, '00000000'));
    assert.equal(unknown.status, 404);
    assert.deepEqual(Object.keys(unknown.json).sort(), Object.keys(other.json).sort(), 'the same answer as for an unknown id');
    const anonymous = await status(location, null);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.code, 'auth.token_missing');
    const wrongApi = await status(location.replace('/erp/v1/', '/erp/v2/'));
    assert.equal(wrongApi.status, 404);
    const post = await call(gw.url, 'POST', location);
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await settled(location, 'delivered');
    await gw.waitForRecord((r) => r.path === location && r.decision === 'async.not_found' && r.consumer === 'crm-sync');
    await gw.waitForRecord((r) => r.path === location && r.decision === 'auth.token_missing');
  });

  it('queues an on-request operation only when asked with Prefer: respond-async (Preference-Applied), else forwards it at once', async () => {
    const now = await call(gw.url, 'POST', '/erp/v1/res.partner/create', { body: { vals_list: [{ name: 'Sync Customer' }] }, headers: { 'x-customer-ref': 'C-9001' } });
    assert.equal(now.status, 200);
    assert.ok(Array.isArray(now.json));
    const later = await call(gw.url, 'POST', '/erp/v1/res.partner/create', { body: { vals_list: [{ name: 'Async Customer' }] }, headers: { 'x-customer-ref': 'C-9002', prefer: 'return=minimal, respond-async' } });
    assert.equal(later.status, 202);
    assert.equal(later.headers.get('preference-applied'), 'respond-async');
    const delivered = await settled(later.headers.get('location')!, 'delivered');
    assert.ok(odoo.records('res.partner').some((p) => p.name === 'Async Customer' && delivered.upstream.body[0] === p.id));
  });

  it('refuses a request without its ordering key (400 async.key_missing, recorded) and sends nothing', async () => {
    const before = odoo.calls.length;
    const refused = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: { vals_list: [{ partner_id: 10 }] } });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.code, 'async.key_missing');
    const noHeader = await call(gw.url, 'POST', '/erp/v1/res.partner/create', { body: { vals_list: [{ name: 'X' }] }, headers: { prefer: 'respond-async' } });
    assert.equal(noHeader.status, 400);
    assert.equal(noHeader.json.code, 'async.key_missing');
    await gw.waitForRecord((r) => r.decision === 'async.key_missing' && r.operation === 'createPartner');
    assert.ok(gw.accessRecords().some((r) => r.decision === 'async.key_missing' && r.operation === 'createOrder' && r.status === 400));
    assert.equal(odoo.calls.length, before);
  });

  it('replays the 202 for a retry with the same Idempotency-Key instead of queueing twice', async () => {
    const first = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: order('WEB-1004'), headers: { 'idempotency-key': 'retry-me-1004' } });
    const again = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: order('WEB-1004'), headers: { 'idempotency-key': 'retry-me-1004' } });
    assert.equal(first.status, 202);
    assert.equal(again.status, 202);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.headers.get('location'), first.headers.get('location'));
    await settled(first.headers.get('location')!, 'delivered');
    assert.equal(orderCreates('WEB-1004'), 1);
  });

  it('dead-letters a permanent refusal and holds later requests of its key; an admin lists, inspects and replays it after the fix', async () => {
    // Odoo refuses an order for a customer that does not exist yet (422 ValidationError).
    const missing = Math.max(...odoo.records('res.partner').map((p) => p.id)) + 1;
    const failing = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: order('WEB-2001', missing) });
    const location = failing.headers.get('location')!;
    const id = location.split('/').pop()!;
    const dead = await settled(location, 'dead');
    assert.equal(dead.error.code, 'upstream.validation_failed');
    assert.equal(dead.error.status, 422);
    assert.equal(dead.attempts, 1, 'a 4xx is not retried');
    // The next step of the same order waits behind it.
    const next = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: { vals_list: [{ partner_id: 10, client_order_ref: 'WEB-2001', origin: 'second step' }] } });
    const nextLocation = next.headers.get('location')!;
    await new Promise((r) => setTimeout(r, 300));
    const held = (await status(nextLocation)).json;
    assert.equal(held.status, 'pending');
    assert.equal(held.attempts, 0);

    const deadRecord = await gw.waitForRecord((r) => r.decision === 'async.dead_letter' && r.path === '/erp/v1/sale.order/create' && r.status === 422);
    assert.equal(deadRecord.consumer, 'storefront');

    const unauthorised = await admin('GET', '/admin/async/dead-letters', 'PLANTED-wrong-admin-token-000000000');
    assert.equal(unauthorised.status, 401);
    const list = await admin('GET', '/admin/async/dead-letters');
    assert.equal(list.status, 200);
    const listed = (list.json as any).items.find((item: any) => item.id === id);
    assert.ok(listed !== undefined, 'listed');
    assert.equal(listed.consumer, 'storefront');
    assert.equal(listed.orderingKey, 'WEB-2001');
    const inspected = await admin('GET', `/admin/async/requests/${id}`);
    assert.equal(inspected.status, 200);
    assert.deepEqual((inspected.json as any).body, order('WEB-2001', missing));
    assert.equal((inspected.json as any).headers['x-api-key'], undefined, 'the caller credential was never kept');
    const notDead = await admin('POST', `/admin/async/dead-letters/${nextLocation.split('/').pop()!}/replay`);
    assert.equal(notDead.status, 409);
    assert.equal((notDead.json as any).code, 'async.not_dead_letter');

    // The fix is upstream: the customer is created (it gets the id the order names).
    const fix = await fetch(`${odoo.url}/json/2/res.partner/create`, {
      method: 'POST',
      headers: { authorization: `bearer ${ODOO_KEY}`, 'x-odoo-database': 'retail', 'content-type': 'application/json' },
      body: JSON.stringify({ vals_list: [{ name: 'Late Customer' }] }),
    });
    assert.deepEqual(await fix.json(), [missing]);
    const replayed = await admin('POST', `/admin/async/dead-letters/${id}/replay`);
    assert.equal(replayed.status, 200);
    assert.equal((replayed.json as any).status, 'pending');
    const delivered = await settled(location, 'delivered');
    assert.equal(delivered.upstream.status, 200);
    await settled(nextLocation, 'delivered');
    const creates = odoo.calls.filter((c) => c.path.endsWith('/sale.order/create') && c.body.includes('WEB-2001'));
    assert.equal(creates.length, 3, 'the refused attempt, its replay, then the held step');
    assert.ok(!creates[1]!.body.includes('second step') && creates[2]!.body.includes('second step'), 'in order');
    await gw.waitForRecord((r) => r.decision === 'async.replayed' && r.path === `/admin/async/dead-letters/${id}/replay`);
    assert.ok(gw.logLines().some((line) => line.includes('"audit":true') && line.includes('async.replayed') && line.includes(id) && line.includes('gateway-admin')));
    assert.equal(((await admin('GET', '/admin/async/dead-letters')).json as any).items.some((item: any) => item.id === id), false);
  });

  it('discards a dead letter: it leaves the list and the requests it held go on', async () => {
    const missing = Math.max(...odoo.records('res.partner').map((p) => p.id)) + 50;
    const failing = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: order('WEB-3001', missing) });
    const location = failing.headers.get('location')!;
    const id = location.split('/').pop()!;
    await settled(location, 'dead');
    const next = await call(gw.url, 'POST', '/erp/v1/sale.order/create', { body: order('WEB-3001') });
    const discarded = await admin('POST', `/admin/async/dead-letters/${id}/discard`);
    assert.equal(discarded.status, 200);
    assert.equal((discarded.json as any).status, 'discarded');
    assert.equal((await status(location)).json.status, 'discarded');
    await settled(next.headers.get('location')!, 'delivered');
    const again = await admin('POST', `/admin/async/dead-letters/${id}/discard`);
    assert.equal(again.status, 409);
    const none = await admin('POST', '/admin/async/dead-letters/0123456789abcdef0123456789abcdef/replay');
    assert.equal(none.status, 404);
    assert.equal((none.json as any).code, 'async.not_found');
    await gw.waitForRecord((r) => r.decision === 'async.discarded' && r.subject === 'admin:gateway-admin');
  });

  it('exposes queue depth, dead letters and deliveries by outcome on /metrics', async () => {
    const text = await (await fetch(`${gw.statusUrl}/metrics`)).text();
    assert.match(text, /^gatehouse_async_queue_depth 0$/m);
    assert.match(text, /^gatehouse_async_dead_letters 0$/m);
    assert.match(text, /^gatehouse_async_deliveries_total\{api="erp",version="1\.0\.0",outcome="delivered"\} \d+$/m);
    assert.match(text, /^gatehouse_async_deliveries_total\{api="erp",version="1\.0\.0",outcome="dead"\} [1-9]\d*$/m);
    assert.match(text, /^gatehouse_async_requests_total\{api="erp",version="1\.0\.0",outcome="accepted"\} \d+$/m);
  });
});

describe('async delivery: an attempt whose outcome was lost', () => {
  let odoo: OdooSimulatorHandle;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-async-doubt-'));
    odoo = await startOdooSimulator({ database: 'retail', apiKeys: [], users: [{ uid: 2, login: 'bot@shop.example', apiKey: ODOO_KEY }] });
  });

  after(async () => {
    await odoo?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Queues a request and marks an attempt started, as a node does right before sending, then "crashes". */
  async function crashAfterMarking(ref: string): Promise<string> {
    const logger = createAppLogger({ component: 'test', level: 'error' });
    const store = createFileAsyncStore({ dir, logger });
    const record = queuedOrder((key) => store.mintId(key), ref, {
      body: Buffer.from(JSON.stringify(order(ref))).toString('base64'),
      traceId: '0af7651916cd43dd8448eb211c80319c',
      plan: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 100, maxStoredResponseBytes: 65536, probe: { method: 'POST', path: '/sale.order/search', body: { domain: [['client_order_ref', '=', ref]] } } },
    });
    const { id } = record;
    await store.enqueue(record);
    const [item] = store.take(Date.now(), 1);
    assert.equal(item!.record.id, id);
    const now = Date.now();
    assert.equal(await store.begin(item!, { ...item!.state, attempts: 1, sendingSince: now - 5000, sendDeadline: now - 1000, updatedAt: now }), true);
    await store.close();
    return id;
  }

  async function gatewayOverTheSameQueue(): Promise<{ gw: TestGateway; store: () => AsyncStore }> {
    let store: AsyncStore | undefined;
    const gw = await startTestGateway({
      snapshot: buildSnapshot({ apis: [erpApi(odoo.url)], plans: [{ id: 'standard', name: 'Standard', scopes: [] }], consumers: twoKeyedConsumers(['erp'], { storefront: STOREFRONT_KEY, crm: CRM_KEY }) }),
      secrets: { ODOO_KEY },
      asyncStore: (logger) => (store = createFileAsyncStore({ dir, logger })),
    });
    return { gw, store: () => store! };
  }

  it('the upstream had applied it: the probe finds the order and nothing is sent again', async () => {
    const id = await crashAfterMarking('WEB-4001');
    // What the lost attempt did upstream before the node died.
    await fetch(`${odoo.url}/json/2/sale.order/create`, {
      method: 'POST',
      headers: { authorization: `bearer ${ODOO_KEY}`, 'x-odoo-database': 'retail', 'content-type': 'application/json' },
      body: JSON.stringify(order('WEB-4001')),
    });
    odoo.resetCalls();
    const { gw, store } = await gatewayOverTheSameQueue();
    try {
      const delivered = await until('the probe', async () => {
        const entry = await store().get(id);
        return entry?.state.status === 'delivered' ? entry : undefined;
      });
      assert.equal(delivered.state.upstream!.confirmedBy, 'probe');
      assert.deepEqual(JSON.parse(delivered.state.upstream!.body), [odoo.records('sale.order').find((o) => o.client_order_ref === 'WEB-4001')!.id]);
      assert.deepEqual(odoo.calls.map((c) => c.path), ['/json/2/sale.order/search'], 'probed, never re-sent');
      assert.equal(odoo.records('sale.order').filter((o) => o.client_order_ref === 'WEB-4001').length, 1);
      const record = await gw.waitForRecord((r: AccessRecord) => r.decision === 'async.delivered');
      assert.equal(record.operation, 'createOrder');
    } finally {
      await gw.close();
      await store().close();
    }
  });

  it('the upstream never got it: the probe finds nothing and it is sent once', async () => {
    const id = await crashAfterMarking('WEB-4002');
    odoo.resetCalls();
    const { gw, store } = await gatewayOverTheSameQueue();
    try {
      const delivered = await until('the delivery', async () => {
        const entry = await store().get(id);
        return entry?.state.status === 'delivered' ? entry : undefined;
      });
      assert.equal(delivered.state.upstream!.confirmedBy, 'response');
      assert.equal(delivered.state.attempts, 2, 'the lost attempt and this one');
      assert.deepEqual(odoo.calls.map((c) => c.path), ['/json/2/sale.order/search', '/json/2/sale.order/create']);
    } finally {
      await gw.close();
      await store().close();
    }
  });
});
