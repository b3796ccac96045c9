/** @module Wire-level tests of the Odoo simulator: JSON-2 status codes and error bodies, JSON-RPC HTTP-200 errors, ORM semantics and value encoding. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startOdooSimulator } from './odoo.js';
import type { OdooSimulatorHandle } from './odoo.js';
import { retailSeed } from './odoo-seed.js';

const KEY = 'odoo-global-key-0001';
const BOT_KEY = 'odoo-bot-key-0002';
const USERS = [
  { uid: 2, login: 'admin', password: 'admin-pw' },
  { uid: 7, login: 'bot@shop.example', apiKey: BOT_KEY },
];

interface ErrorBody {
  name: string;
  message: string;
  arguments: unknown[];
  context: Record<string, unknown>;
  debug: string;
}

describe('Odoo simulator', () => {
  let odoo: OdooSimulatorHandle;
  let multi: OdooSimulatorHandle;

  const json2 = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${odoo.url}/json/2/${path}`, {
      method: 'POST',
      headers: { authorization: `bearer ${KEY}`, 'x-odoo-database': 'retail', 'content-type': 'application/json; charset=utf-8', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
  };
  const rpc = async (service: string, method: string, args: unknown[], id: unknown = 1) => {
    const res = await fetch(`${odoo.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id, params: { service, method, args } }),
    });
    return { status: res.status, body: (await res.json()) as { id: unknown; result?: unknown; error?: { code: number; message: string; data: ErrorBody } } };
  };
  const kw = (model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}, secret = 'admin-pw') =>
    rpc('object', 'execute_kw', ['retail', 2, secret, model, method, args, kwargs]);

  before(async () => {
    odoo = await startOdooSimulator({ database: 'retail', apiKeys: [KEY], users: USERS });
    multi = await startOdooSimulator({ database: 'retail', apiKeys: [KEY], users: USERS, multiDb: true });
  });
  after(async () => {
    await odoo.close();
    await multi.close();
  });

  describe('JSON-2', () => {
    it('search_read returns bare JSON with false for empty values and [id, name] many2one', async () => {
      const res = await json2('res.partner/search_read', {
        domain: [['ref', '=', 'C-1004']],
        fields: ['name', 'phone', 'country_id', 'parent_id', 'is_company'],
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(res.body, [{ id: 15, name: 'Priya Shah', phone: false, country_id: [21, 'Belgium'], parent_id: false, is_company: false }]);
    });

    it('supports | / ! operators, in, ilike and dotted paths in domains', async () => {
      const or = await json2('sale.order/search_read', { domain: ['|', ['state', '=', 'draft'], ['state', '=', 'cancel']], fields: ['name'], order: 'name asc' });
      assert.deepEqual(or.body, [{ id: 5, name: 'S00005' }, { id: 6, name: 'S00006' }]);
      const not = await json2('sale.order/search', { domain: ['!', ['state', 'in', ['sale', 'cancel']]] });
      assert.deepEqual(not.body, [5]);
      const ilike = await json2('res.partner/search', { domain: [['name', 'ilike', 'OUTFIT']] });
      assert.deepEqual(ilike.body, [10]);
      const dotted = await json2('sale.order/search_count', { domain: [['partner_id.ref', '=', 'C-1001']] });
      assert.equal(dotted.body, 2);
      const childOf = await json2('res.partner/search', { domain: [['id', 'child_of', 10]], order: 'id asc' });
      assert.deepEqual(childOf.body, [10, 13]);
    });

    it('honours fields, limit, offset and order ("field dir, field dir")', async () => {
      const res = await json2('product.product/search_read', {
        domain: [['is_storable', '=', true]],
        fields: ['default_code', 'lst_price'],
        order: 'lst_price desc, id asc',
        offset: 1,
        limit: 2,
      });
      assert.deepEqual(res.body, [
        { id: 21, default_code: 'FURN-0001', lst_price: 129 },
        { id: 23, default_code: 'LAMP-0100', lst_price: 89.9 },
      ]);
    });

    it('encodes dates as YYYY-MM-DD, datetimes as UTC "YYYY-MM-DD HH:MM:SS", x2many as id lists', async () => {
      const res = await json2('sale.order/read', { ids: [1], fields: ['date_order', 'order_line', 'validity_date'] });
      const [order] = res.body as Array<Record<string, unknown>>;
      assert.equal(order!.date_order, '2025-03-03 09:15:00');
      assert.deepEqual(order!.order_line, [101, 102]);
      assert.equal(order!.validity_date, false);
      const move = await json2('account.move/read', { ids: [44], fields: ['invoice_date_due', 'partner_bank_id', 'amount_residual'] });
      assert.deepEqual(move.body, [{ id: 44, invoice_date_due: '2025-04-12', partner_bank_id: [1, 'BE71 0961 2345 6769'], amount_residual: 355.74 }]);
    });

    it('create with vals_list returns ids, one2many commands create lines, write returns true', async () => {
      const created = await json2('sale.order/create', {
        vals_list: [{ partner_id: 12, client_order_ref: 'PO-NW-1', order_line: [[0, 0, { product_id: 24, product_uom_qty: 2 }]] }],
      });
      assert.equal(created.status, 200);
      const [id] = created.body as number[];
      const read = await json2('sale.order/read', { ids: [id], fields: ['name', 'state', 'amount_untaxed', 'amount_total', 'partner_shipping_id'] });
      assert.deepEqual(read.body, [{ id, name: 'S00008', state: 'draft', amount_untaxed: 118, amount_total: 142.78, partner_shipping_id: [12, 'Northwind Cycles'] }]);
      const line = (await json2('sale.order/read', { ids: [id], fields: ['order_line'] })).body as Array<{ order_line: number[] }>;
      const write = await json2('sale.order/write', { ids: [id], vals: { order_line: [[1, line[0]!.order_line[0], { product_uom_qty: 3 }], [0, 0, { product_id: 26 }]] } });
      assert.equal(write.body, true);
      const after = await json2('sale.order/read', { ids: [id], fields: ['amount_untaxed', 'order_line'] });
      assert.equal((after.body as Array<{ amount_untaxed: number }>)[0]!.amount_untaxed, 222);
      assert.equal((after.body as Array<{ order_line: number[] }>)[0]!.order_line.length, 2);
      const unlinked = await json2('sale.order/unlink', { ids: [id] });
      assert.equal(unlinked.body, true);
      assert.equal((await json2('sale.order.line/search_count', { domain: [['order_id', '=', id]] })).body, 0);
    });

    it('action_confirm moves draft → sale and creates a delivery; confirming twice is a 422 UserError', async () => {
      const confirm = await json2('sale.order/action_confirm', { ids: [5] });
      assert.deepEqual([confirm.status, confirm.body], [200, true]);
      const order = await json2('sale.order/read', { ids: [5], fields: ['state', 'invoice_status'] });
      assert.deepEqual(order.body, [{ id: 5, state: 'sale', invoice_status: 'to invoice' }]);
      const pickings = await json2('stock.picking/search_read', { domain: [['origin', '=', 'S00005']], fields: ['state', 'sale_id'] });
      assert.equal((pickings.body as Array<{ state: string }>)[0]!.state, 'assigned');
      const again = await json2('sale.order/action_confirm', { ids: [5] });
      assert.equal(again.status, 422);
      assert.equal((again.body as ErrorBody).name, 'odoo.exceptions.UserError');
    });

    it('action_cancel is refused for an order with posted invoices; action_post posts a draft invoice', async () => {
      const cancel = await json2('sale.order/action_cancel', { ids: [1] });
      assert.equal(cancel.status, 422);
      assert.match((cancel.body as ErrorBody).message, /posted invoices/);
      const [moveId] = (await json2('account.move/create', { vals_list: [{ move_type: 'out_invoice', partner_id: 15, invoice_origin: 'S00007', amount_untaxed: 89.9, amount_tax: 18.88, amount_total: 108.78 }] })).body as number[];
      assert.equal((await json2('account.move/action_post', { ids: [moveId] })).body, true);
      const move = await json2('account.move/read', { ids: [moveId], fields: ['name', 'state', 'payment_state', 'amount_residual'] });
      const [posted] = move.body as Array<Record<string, unknown>>;
      assert.equal(posted!.state, 'posted');
      assert.equal(posted!.payment_state, 'not_paid');
      assert.equal(posted!.amount_residual, 108.78);
      assert.match(String(posted!.name), /^INV\/\d{4}\/\d{5}$/);
    });

    it('401 Invalid apikey with WWW-Authenticate: bearer and the documented body (incl. debug)', async () => {
      const res = await json2('res.partner/search_read', { domain: [] }, { authorization: 'Bearer wrong-key' });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'bearer');
      const body = res.body as ErrorBody;
      assert.deepEqual([body.name, body.message, body.arguments, body.context], ['werkzeug.exceptions.Unauthorized', 'Invalid apikey', ['Invalid apikey', 401], {}]);
      assert.match(body.debug, /^Traceback \(most recent call last\):/);
      const none = await fetch(`${odoo.url}/json/2/res.partner/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"domain":[]}' });
      assert.equal(none.status, 401);
      assert.match(((await none.json()) as ErrorBody).message, /use an API Key with a Bearer Authorization header/);
    });

    it('accepts a user-bound key and the scheme case-insensitively (res.users/context_get tells the uid)', async () => {
      const res = await json2('res.users/context_get', {}, { authorization: `BEARER ${BOT_KEY}` });
      assert.equal(res.status, 200);
      assert.equal((res.body as { uid: number }).uid, 7);
    });

    it('400 for a body that is not JSON', async () => {
      const res = await json2('res.partner/search', '{not json');
      assert.equal(res.status, 400);
      assert.equal((res.body as ErrorBody).name, 'werkzeug.exceptions.BadRequest');
      assert.match((res.body as ErrorBody).message, /^could not parse the body as json: /);
    });

    it('403 AccessError for private methods', async () => {
      const res = await json2('sale.order/_create_invoices', { ids: [7] });
      assert.equal(res.status, 403);
      assert.deepEqual([(res.body as ErrorBody).name, (res.body as ErrorBody).message], [
        'odoo.exceptions.AccessError',
        "Private methods (such as 'sale.order._create_invoices') cannot be called remotely.",
      ]);
    });

    it('404 for unknown model, unknown method and MissingError; non-POST gets "Did you mean"', async () => {
      const model = await json2('no.such.model/search', { domain: [] });
      assert.equal(model.status, 404);
      assert.equal((model.body as ErrorBody).message, "the model 'no.such.model' does not exist");
      const method = await json2('sale.order/frobnicate', {});
      assert.equal(method.status, 404);
      assert.equal((method.body as ErrorBody).name, 'werkzeug.exceptions.NotFound');
      const missing = await json2('sale.order/read', { ids: [999], fields: ['name'] });
      assert.equal(missing.status, 404);
      assert.equal((missing.body as ErrorBody).name, 'odoo.exceptions.MissingError');
      const get = await fetch(`${odoo.url}/json/2/sale.order/search`, { headers: { authorization: `bearer ${KEY}` } });
      assert.equal(get.status, 404);
      assert.equal(((await get.json()) as ErrorBody).message, 'Did you mean POST /json/2/<model>/<method>?');
    });

    it('415 (text/html) for a non-JSON content type', async () => {
      const res = await fetch(`${odoo.url}/json/2/res.partner/search`, {
        method: 'POST',
        headers: { authorization: `bearer ${KEY}`, 'content-type': 'text/plain' },
        body: '{"domain":[]}',
      });
      assert.equal(res.status, 415);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    });

    it('422 for unexpected keyword, missing required argument, ids on @api.model, and ValidationError', async () => {
      const unexpected = await json2('res.partner/search', { domain: [], colour: 'red' });
      assert.equal(unexpected.status, 422);
      assert.equal((unexpected.body as ErrorBody).message, "got an unexpected keyword argument 'colour'");
      const missing = await json2('res.partner/search', {});
      assert.equal((missing.body as ErrorBody).message, "missing a required argument: 'domain'");
      const withIds = await json2('res.partner/create', { ids: [1], vals_list: [{ name: 'x' }] });
      assert.deepEqual([withIds.status, (withIds.body as ErrorBody).message], [422, 'cannot call res.partner.create with ids']);
      const invalid = await json2('res.partner/write', { ids: [10], vals: { shoe_size: 44 } });
      assert.equal(invalid.status, 422);
      assert.deepEqual([(invalid.body as ErrorBody).name, (invalid.body as ErrorBody).message], [
        'odoo.exceptions.ValidationError',
        "Invalid field 'shoe_size' on model 'res.partner'",
      ]);
      assert.ok((invalid.body as ErrorBody).debug.length > 0);
    });

    it('409 LockError on locked records, and a failed call leaves no partial writes', async () => {
      odoo.lockRecords('sale.order', [7]);
      const locked = await json2('sale.order/write', { ids: [7], vals: { client_order_ref: 'X' } });
      assert.equal(locked.status, 409);
      assert.equal((locked.body as ErrorBody).name, 'odoo.exceptions.LockError');
      odoo.unlockRecords();
      const before = odoo.records('sale.order.line').length;
      const failed = await json2('sale.order/create', { vals_list: [{ partner_id: 10, order_line: [[0, 0, { product_id: 21 }]] }, { partner_id: 10, bogus: 1 }] });
      assert.equal(failed.status, 422);
      assert.equal(odoo.records('sale.order.line').length, before, 'first order and its line were rolled back');
    });

    it('multi-db mode answers 404 text/html without X-Odoo-Database', async () => {
      const res = await fetch(`${multi.url}/json/2/res.partner/search`, {
        method: 'POST',
        headers: { authorization: `bearer ${KEY}`, 'content-type': 'application/json' },
        body: '{"domain":[]}',
      });
      assert.equal(res.status, 404);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await res.text(), /The requested URL was not found on the server/);
      const ok = await fetch(`${multi.url}/json/2/res.partner/search_count`, {
        method: 'POST',
        headers: { authorization: `bearer ${KEY}`, 'content-type': 'application/json', 'x-odoo-database': 'retail' },
        body: '{"domain":[]}',
      });
      assert.equal(ok.status, 200);
    });

    it('records every call, including the body', async () => {
      odoo.resetCalls();
      await json2('res.partner/search_count', { domain: [] });
      assert.equal(odoo.calls.length, 1);
      assert.equal(odoo.calls[0]!.path, '/json/2/res.partner/search_count');
      assert.equal(odoo.calls[0]!.body, '{"domain":[]}');
      assert.equal(odoo.calls[0]!.headers.authorization, `bearer ${KEY}`);
    });
  });

  describe('JSON-RPC', () => {
    it('common.version and authenticate (uid, or false on bad credentials)', async () => {
      const version = await rpc('common', 'version', []);
      assert.equal((version.body.result as { server_serie: string }).server_serie, '19.0');
      assert.deepEqual((await rpc('common', 'authenticate', ['retail', 'bot@shop.example', BOT_KEY, {}])).body.result, 7);
      assert.deepEqual((await rpc('common', 'authenticate', ['retail', 'admin', KEY, {}])).body.result, 2);
      const bad = await rpc('common', 'authenticate', ['retail', 'admin', 'nope', {}], 'abc');
      assert.deepEqual(bad.body, { jsonrpc: '2.0', id: 'abc', result: false });
      assert.equal((await rpc('common', 'login', ['retail', 'admin', 'admin-pw'])).body.result, 2);
    });

    it('execute_kw search_read shares state with JSON-2', async () => {
      const res = await kw('sale.order', 'search_read', [[['name', '=', 'S00002']]], { fields: ['name', 'amount_total', 'invoice_status', 'partner_id'] });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.result, [{ id: 2, name: 'S00002', amount_total: 1000.67, invoice_status: 'invoiced', partner_id: [11, 'Lumen Home Goods'] }]);
      const created = await kw('res.partner', 'create', [{ name: 'RPC Partner', email: 'rpc@example.test' }]);
      assert.equal(typeof created.body.result, 'number', 'create({...}) returns a single id');
      const many = await kw('res.partner', 'create', [[{ name: 'A' }, { name: 'B' }]]);
      assert.equal((many.body.result as number[]).length, 2, 'create([...]) returns a list');
      const viaJson2 = await json2('res.partner/search_count', { domain: [['email', '=', 'rpc@example.test']] });
      assert.equal(viaJson2.body, 1);
    });

    it('bad credentials in execute_kw: HTTP 200 + AccessDenied envelope with debug', async () => {
      const res = await kw('res.partner', 'search', [[]], {}, 'wrong');
      assert.equal(res.status, 200);
      const error = res.body.error!;
      assert.equal(error.code, 200);
      assert.equal(error.message, 'Odoo Server Error');
      assert.equal(error.data.name, 'odoo.exceptions.AccessDenied');
      assert.equal(error.data.message, 'Access Denied');
      assert.match(error.data.debug, /Traceback/);
      assert.equal(res.body.result, undefined);
    });

    it('errors travel in HTTP 200: MissingError, ValidationError, AccessError, unknown method', async () => {
      const missing = await kw('sale.order', 'read', [[999], ['name']]);
      assert.deepEqual([missing.status, missing.body.error!.data.name], [200, 'odoo.exceptions.MissingError']);
      const invalid = await kw('res.partner', 'write', [[10], { nope: 1 }]);
      assert.equal(invalid.body.error!.data.name, 'odoo.exceptions.ValidationError');
      const priv = await kw('sale.order', '_action_confirm', [[5]]);
      assert.equal(priv.body.error!.data.name, 'odoo.exceptions.AccessError');
      const unknown = await kw('sale.order', 'frobnicate', [[5]]);
      assert.equal(unknown.body.error!.data.name, 'builtins.AttributeError');
      assert.equal(unknown.body.error!.data.message, "The method 'sale.order.frobnicate' does not exist");
      const user = await kw('sale.order', 'unlink', [[1]]);
      assert.equal(user.body.error!.data.name, 'odoo.exceptions.UserError');
    });

    it('non-JSON body → 400 text/plain "Invalid JSON data"', async () => {
      const res = await fetch(`${odoo.url}/jsonrpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'nope' });
      assert.equal(res.status, 400);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await res.text(), 'Invalid JSON data');
    });
  });

  it('retailSeed() is deterministic and exposes the documented demo data', () => {
    const seed = retailSeed();
    assert.deepEqual(seed, retailSeed());
    assert.deepEqual(seed['sale.order']!.map((o) => [o.name, o.state]), [
      ['S00001', 'sale'], ['S00002', 'sale'], ['S00003', 'sale'], ['S00004', 'sale'], ['S00005', 'draft'], ['S00006', 'cancel'], ['S00007', 'sale'],
    ]);
    assert.deepEqual(seed['account.move']!.map((m) => [m.id, m.invoice_origin, m.payment_state]), [
      [41, 'S00001', 'paid'], [42, 'S00002', 'partial'], [43, 'S00003', 'in_payment'], [44, 'S00004', 'not_paid'],
    ]);
    assert.deepEqual(seed['res.partner']!.filter((p) => p.ref).map((p) => p.ref), ['C-1001', 'C-1002', 'C-1003', 'C-1004']);
  });
});
