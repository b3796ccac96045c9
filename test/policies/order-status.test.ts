/**
 * `order-status`: the canonical order status pinned case by case (the README's table), then
 * through a real gateway in front of the Odoo simulator: every sales order read through JSON-2
 * or JSON-RPC carries it, the fields it needs are asked for upstream and removed again unless
 * the caller wanted them, it follows the order through confirmation and partial and full
 * delivery, and field-auth masking still applies on top.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApiSpec, PolicyBinding } from '../../contracts/index.js';
import { CANONICAL_ORDER_STATUSES, canonicalOrderStatus, type CanonicalOrderStatus, type OrderStatusSource } from '../../policies/index.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { answerOf, type Answer } from '../gateway/upstreams/helpers.js';
import { executeKw, KEYS, ODOO_OPTIONS, PLANS, retailApis, retailConsumers, SECRETS } from '../support/retail-governance.js';
import { startOdooSimulator, type OdooSimulatorHandle } from '../simulators/index.js';

describe('canonical order status', () => {
  // [state, delivery_status, invoice_status, payment_state] → status; `undefined`: the record lacks the field.
  const table: Array<[unknown, unknown, unknown, unknown, CanonicalOrderStatus]> = [
    ['draft', false, 'no', undefined, 'quotation'],
    ['sent', false, 'no', undefined, 'quotation'],
    ['cancel', false, 'no', undefined, 'cancelled'],
    ['cancel', 'full', 'invoiced', 'paid', 'cancelled'],
    ['sale', 'pending', 'to invoice', undefined, 'confirmed'],
    ['sale', 'started', 'to invoice', undefined, 'confirmed'],
    ['sale', 'pending', 'invoiced', 'paid', 'confirmed'],
    ['sale', 'partial', 'to invoice', undefined, 'partially_shipped'],
    ['sale', 'partial', 'invoiced', 'paid', 'partially_shipped'],
    ['sale', 'full', 'to invoice', undefined, 'shipped'],
    ['sale', 'full', 'no', undefined, 'shipped'],
    ['sale', 'full', 'invoiced', undefined, 'invoiced'],
    ['sale', 'full', 'invoiced', 'not_paid', 'invoiced'],
    ['sale', 'full', 'invoiced', 'partial', 'invoiced'],
    ['sale', 'full', 'invoiced', 'reversed', 'invoiced'],
    ['sale', 'full', 'upselling', 'in_payment', 'paid'],
    ['sale', 'full', 'invoiced', 'paid', 'paid'],
    ['sale', 'full', 'to invoice', 'paid', 'shipped'],
    ['sale', false, 'to invoice', undefined, 'confirmed'],
    ['sale', false, 'no', undefined, 'confirmed'],
    ['sale', false, 'invoiced', 'paid', 'paid'],
    ['sale', undefined, 'invoiced', undefined, 'invoiced'],
    ['done', 'full', 'invoiced', 'paid', 'paid'],
    [undefined, 'full', 'invoiced', 'paid', 'unknown'],
    ['approved', undefined, undefined, undefined, 'unknown'],
  ];
  for (const [state, deliveryStatus, invoiceStatus, paymentState, expected] of table) {
    it(`state ${String(state)}, delivery ${String(deliveryStatus)}, invoice ${String(invoiceStatus)}, payment ${String(paymentState)} → ${expected}`, () => {
      const source: OrderStatusSource = { state, deliveryStatus, invoiceStatus, paymentState };
      assert.equal(canonicalOrderStatus(source), expected);
    });
  }

  it('uses only the documented vocabulary', () => {
    assert.deepEqual([...CANONICAL_ORDER_STATUSES], ['quotation', 'confirmed', 'partially_shipped', 'shipped', 'invoiced', 'paid', 'cancelled', 'unknown']);
    for (const row of table) assert.ok(CANONICAL_ORDER_STATUSES.includes(row[4]));
  });
});

describe('order-status through the gateway', () => {
  let odoo: OdooSimulatorHandle;
  let gw: TestGateway;

  /** The seed's orders and their status (upstreams.md §1.8 data in test/simulators/odoo-seed.ts). */
  const SEEDED: Record<string, CanonicalOrderStatus> = {
    S00001: 'invoiced', // sale, invoiced, delivered (its invoice is paid, but sale.order carries no payment state)
    S00002: 'invoiced',
    S00003: 'invoiced',
    S00004: 'confirmed', // invoiced in advance, delivery ready but not done
    S00005: 'quotation',
    S00006: 'cancelled',
    S00007: 'confirmed', // to invoice, waiting for stock
  };

  function policiesOf(slug: string): PolicyBinding[] {
    const fieldAuth: PolicyBinding = { policy: 'field-auth', config: { rules: [{ plans: ['storefront'], models: ['sale.order'], hide: ['invoice_status', 'amount_tax'], denyWrite: [] }] } };
    return slug === 'erp-rpc' ? [{ policy: 'order-status', config: { field: 'order_status' } }, fieldAuth] : [{ policy: 'order-status', config: {} }, fieldAuth];
  }

  before(async () => {
    odoo = await startOdooSimulator(ODOO_OPTIONS);
    const apis: ApiSpec[] = retailApis({ odoo: odoo.url, salesforce: 'http://127.0.0.1:9', zendesk: 'http://127.0.0.1:9' }, policiesOf).filter((api) => api.slug.startsWith('erp'));
    gw = await startTestGateway({ snapshot: buildSnapshot({ apis, plans: PLANS, consumers: retailConsumers(['erp', 'erp-rpc']) }), secrets: SECRETS });
  });

  after(async () => {
    await gw?.close();
    await odoo?.close();
  });

  beforeEach(() => odoo.resetCalls());

  async function post(key: string, path: string, json: unknown): Promise<Answer> {
    return answerOf(await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(json) }));
  }

  /** Odoo straight, as the ERP's own tooling would move an order along. */
  async function odooDirect(model: string, method: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${odoo.url}/json/2/${model}/${method}`, {
      method: 'POST',
      headers: { authorization: `bearer ${SECRETS.ODOO_KEY}`, 'x-odoo-database': 'retail', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    return res.json();
  }

  const byName = (records: unknown, field = 'gatehouse_status'): Record<string, unknown> =>
    Object.fromEntries((records as Array<Record<string, unknown>>).map((r) => [String(r.name), r[field]]));

  it('adds the status to every order of a JSON-2 search_read, asking Odoo for what it needs and returning only what was asked', async () => {
    const answer = await post(KEYS.finance, '/erp/v1/sale.order/search_read', { domain: [], fields: ['name'] });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(byName(answer.json), SEEDED);
    for (const record of answer.json as Array<Record<string, unknown>>) assert.deepEqual(Object.keys(record).sort(), ['gatehouse_status', 'id', 'name']);
    assert.equal(odoo.calls.length, 1);
    assert.deepEqual(JSON.parse(odoo.calls[0]!.body), { domain: [], fields: ['name', 'state', 'invoice_status', 'delivery_status'] });
  });

  it('keeps source fields the caller asked for, and works without a field list (Odoo answers every field)', async () => {
    const asked = await post(KEYS.finance, '/erp/v1/sale.order/read', { ids: [4], fields: ['name', 'state', 'delivery_status'] });
    assert.deepEqual(asked.json, [{ id: 4, name: 'S00004', state: 'sale', delivery_status: 'pending', gatehouse_status: 'confirmed' }]);
    assert.deepEqual(JSON.parse(odoo.calls[0]!.body).fields, ['name', 'state', 'delivery_status', 'invoice_status']);
    const all = await post(KEYS.finance, '/erp/v1/sale.order/search_read', { domain: [['name', '=', 'S00001']] });
    const [order] = all.json as Array<Record<string, unknown>>;
    assert.equal(order!.gatehouse_status, 'invoiced');
    assert.equal(order!.delivery_status, 'full');
    assert.deepEqual(order!.picking_ids, [51]);
  });

  it('adds it through JSON-RPC execute_kw too (keyword and positional fields), under a configured field name', async () => {
    const kw = await post(KEYS.finance, '/erp-rpc/v1/jsonrpc', executeKw('sale.order', 'search_read', [[['state', '!=', 'draft']]], { fields: ['name'] }));
    const { result } = kw.json as { result: Array<Record<string, unknown>> };
    assert.deepEqual(byName(result, 'order_status'), Object.fromEntries(Object.entries(SEEDED).filter(([name]) => name !== 'S00005')));
    for (const record of result) assert.deepEqual(Object.keys(record).sort(), ['id', 'name', 'order_status']);
    const positional = await post(KEYS.finance, '/erp-rpc/v1/jsonrpc', executeKw('sale.order', 'read', [[6, 7], ['name']]));
    assert.deepEqual((positional.json as { result: unknown }).result, [
      { id: 6, name: 'S00006', order_status: 'cancelled' },
      { id: 7, name: 'S00007', order_status: 'confirmed' },
    ]);
    const sent = JSON.parse(odoo.calls[1]!.body) as { params: { args: unknown[] } };
    assert.deepEqual(sent.params.args.slice(3), ['sale.order', 'read', [[6, 7], ['name', 'state', 'invoice_status', 'delivery_status']], {}]);
  });

  it('follows an order through confirmation, partial delivery and full delivery', async () => {
    const status = async (): Promise<unknown> => byName((await post(KEYS.finance, '/erp/v1/sale.order/read', { ids: [5], fields: ['name'] })).json).S00005;
    assert.equal(await status(), 'quotation');
    await odooDirect('sale.order', 'action_confirm', { ids: [5] });
    assert.equal(await status(), 'confirmed');
    // The warehouse ships part of it: its transfer is done with goods delivered, a backorder waits.
    const [picking] = (await odooDirect('stock.picking', 'search', { domain: [['sale_id', '=', 5]] })) as number[];
    await odooDirect('stock.picking', 'write', { ids: [picking], vals: { state: 'done' } });
    const [backorder] = (await odooDirect('stock.picking', 'create', { vals_list: [{ name: 'WH/OUT/00099', origin: 'S00005', sale_id: 5, state: 'assigned' }] })) as number[];
    const lines = (await odooDirect('sale.order.line', 'search', { domain: [['order_id', '=', 5]] })) as number[];
    await odooDirect('sale.order.line', 'write', { ids: lines, vals: { qty_delivered: 6 } });
    assert.equal(await status(), 'partially_shipped');
    await odooDirect('stock.picking', 'write', { ids: [backorder], vals: { state: 'done' } });
    assert.equal(await status(), 'shipped');
  });

  it('applies before field-auth masking, so a caller sees the status but not the fields it may not see', async () => {
    const web = await post(KEYS.storefront, '/erp/v1/sale.order/search_read', { domain: [['name', '=', 'S00007']], fields: ['name', 'amount_total'] });
    assert.deepEqual(web.json, [{ id: 7, name: 'S00007', amount_total: 108.78, gatehouse_status: 'confirmed' }]);
    const everything = await post(KEYS.storefront, '/erp/v1/sale.order/search_read', { domain: [['name', '=', 'S00007']] });
    const [order] = everything.json as Array<Record<string, unknown>>;
    assert.equal(order!.gatehouse_status, 'confirmed');
    assert.equal(order!.state, 'sale');
    assert.ok(!('invoice_status' in order!) && !('amount_tax' in order!));
  });

  it('leaves other models, writes and errors alone', async () => {
    const invoices = await post(KEYS.finance, '/erp/v1/account.move/search_read', { domain: [], fields: ['name'] });
    for (const record of invoices.json as Array<Record<string, unknown>>) assert.ok(!('gatehouse_status' in record));
    assert.deepEqual(JSON.parse(odoo.calls[0]!.body), { domain: [], fields: ['name'] });
    const write = await post(KEYS.finance, '/erp/v1/sale.order/write', { ids: [7], vals: { client_order_ref: 'PO-7' } });
    assert.equal(write.json, true);
    const missing = await post(KEYS.finance, '/erp/v1/sale.order/read', { ids: [999], fields: ['name'] });
    assert.equal(missing.status, 404);
  });

  it('refuses to be bound to a version that is not Odoo', async () => {
    const [crm] = retailApis({ odoo: odoo.url, salesforce: 'http://127.0.0.1:9', zendesk: 'http://127.0.0.1:9' }, () => [{ policy: 'order-status', config: {} }]).filter((api) => api.slug === 'crm');
    const result = await gw.gateway.apply(JSON.stringify(buildSnapshot({ apis: [crm!], plans: PLANS })), 'test');
    assert.equal(result.applied, false);
    assert.match(result.error ?? '', /order-status reads Odoo orders; this version's upstream is "salesforce"/);
  });
});
