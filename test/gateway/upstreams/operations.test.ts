/**
 * @module Unit tests of every adapter's `extractOperation`: the business operation policies
 * (ownership, RBAC, field rules) reason about, read from path and body (DESIGN §5).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BusinessOperation } from '../../../contracts/index.js';
import { httpAdapter } from '../../../gateway/upstreams/http.js';
import { odooJson2Adapter } from '../../../gateway/upstreams/odoo-json2.js';
import { odooJsonRpcAdapter } from '../../../gateway/upstreams/odoo-jsonrpc.js';
import { salesforceAdapter } from '../../../gateway/upstreams/salesforce.js';
import { zendeskAdapter } from '../../../gateway/upstreams/zendesk.js';
import { salesforceId } from '../../simulators/index.js';
import { stubEnv } from './helpers.js';

const ACCOUNT_1 = salesforceId('001', 1);
const CONTACT_2 = salesforceId('003', 2);

describe('odoo-json2 extractOperation', () => {
  const adapter = odooJson2Adapter.create({ database: 'retail', apiKey: { env: 'ODOO_KEY' } }, stubEnv('http://odoo.test/json/2'));
  const op = (path: string, body: unknown): BusinessOperation => adapter.extractOperation('POST', path, body);

  it('search_read is a read of the model with the requested fields', () => {
    assert.deepStrictEqual(op('/sale.order/search_read', { domain: [['state', '=', 'sale']], fields: ['name', 'amount_total'], limit: 5 }), {
      system: 'odoo',
      entity: 'sale.order',
      action: 'read',
      method: 'search_read',
      fields: ['name', 'amount_total'],
      ids: [],
    });
  });

  it('read carries the ids and fields; a query string does not leak into the method', () => {
    assert.deepStrictEqual(op('/res.partner/read?debug=1', { ids: [10, 11], fields: ['name', 'email'] }), {
      system: 'odoo',
      entity: 'res.partner',
      action: 'read',
      method: 'read',
      fields: ['name', 'email'],
      ids: [10, 11],
    });
  });

  it('create lists the union of the fields written by every vals_list entry', () => {
    assert.deepStrictEqual(op('/res.partner/create', { vals_list: [{ name: 'Acme' }, { name: 'Bolt', email: 'b@x.example' }] }), {
      system: 'odoo',
      entity: 'res.partner',
      action: 'create',
      method: 'create',
      fields: ['name', 'email'],
      ids: [],
    });
  });

  it('write is an update of the ids with the fields of vals', () => {
    assert.deepStrictEqual(op('/res.partner/write', { ids: [12], vals: { phone: '+1 555', street: 'Main St' } }), {
      system: 'odoo',
      entity: 'res.partner',
      action: 'update',
      method: 'write',
      fields: ['phone', 'street'],
      ids: [12],
    });
  });

  it('unlink is a delete of the ids', () => {
    assert.deepStrictEqual(op('/sale.order/unlink', { ids: [5] }), {
      system: 'odoo',
      entity: 'sale.order',
      action: 'delete',
      method: 'unlink',
      fields: [],
      ids: [5],
    });
  });

  it('action_confirm on sale.order is a call (a write) naming the method', () => {
    assert.deepStrictEqual(op('/sale.order/action_confirm', { ids: [5] }), {
      system: 'odoo',
      entity: 'sale.order',
      action: 'call',
      method: 'action_confirm',
      fields: [],
      ids: [5],
    });
  });

  it('an unknown method is a call, i.e. treated as a write (fail closed), without a body too', () => {
    assert.deepStrictEqual(op('/res.partner/frobnicate', undefined), {
      system: 'odoo',
      entity: 'res.partner',
      action: 'call',
      method: 'frobnicate',
      fields: [],
      ids: [],
    });
  });
});

describe('odoo-jsonrpc extractOperation', () => {
  const adapter = odooJsonRpcAdapter.create(
    { database: 'retail', login: 'bot@shop.example', apiKey: { env: 'ODOO_KEY' } },
    stubEnv('http://odoo.test'),
  );
  const executeKw = (model: string, method: string, args: unknown[], kwargs?: Record<string, unknown>): unknown => ({
    jsonrpc: '2.0',
    method: 'call',
    id: 7,
    params: { service: 'object', method: 'execute_kw', args: ['x', 0, 'nope', model, method, args, ...(kwargs === undefined ? [] : [kwargs])] },
  });
  const op = (body: unknown): BusinessOperation => adapter.extractOperation('POST', '/jsonrpc', body);

  it('create with a list of dicts lists their fields', () => {
    assert.deepStrictEqual(op(executeKw('res.partner', 'create', [[{ name: 'Acme', email: 'a@x.example' }, { name: 'Bolt', phone: '1' }]])), {
      system: 'odoo',
      entity: 'res.partner',
      action: 'create',
      method: 'create',
      fields: ['name', 'email', 'phone'],
      ids: [],
    });
  });

  it('create with a single dict lists its fields', () => {
    assert.deepStrictEqual(op(executeKw('res.partner', 'create', [{ name: 'Acme' }])), {
      system: 'odoo',
      entity: 'res.partner',
      action: 'create',
      method: 'create',
      fields: ['name'],
      ids: [],
    });
  });

  it('create with vals_list passed as a keyword argument still lists the fields', () => {
    assert.deepStrictEqual(op(executeKw('res.partner', 'create', [], { vals_list: [{ name: 'Acme', vat: 'BE0477472701' }] })), {
      system: 'odoo',
      entity: 'res.partner',
      action: 'create',
      method: 'create',
      fields: ['name', 'vat'],
      ids: [],
    });
  });

  it('write is an update of args[0] with the fields of args[1] (or kwargs.vals)', () => {
    const expected: BusinessOperation = { system: 'odoo', entity: 'res.partner', action: 'update', method: 'write', fields: ['phone'], ids: [10, 11] };
    assert.deepStrictEqual(op(executeKw('res.partner', 'write', [[10, 11], { phone: '+32 1' }])), expected);
    assert.deepStrictEqual(op(executeKw('res.partner', 'write', [[10, 11]], { vals: { phone: '+32 1' } })), expected);
  });

  it('read carries ids and fields (positional or keyword)', () => {
    const expected: BusinessOperation = { system: 'odoo', entity: 'sale.order', action: 'read', method: 'read', fields: ['name', 'state'], ids: [1, 2] };
    assert.deepStrictEqual(op(executeKw('sale.order', 'read', [[1, 2], ['name', 'state']])), expected);
    assert.deepStrictEqual(op(executeKw('sale.order', 'read', [[1, 2]], { fields: ['name', 'state'] })), expected);
  });

  it('search_read is a read with the fields of kwargs, and no ids from the domain', () => {
    assert.deepStrictEqual(op(executeKw('sale.order', 'search_read', [[['state', '=', 'sale']]], { fields: ['name', 'amount_total'], limit: 3 })), {
      system: 'odoo',
      entity: 'sale.order',
      action: 'read',
      method: 'search_read',
      fields: ['name', 'amount_total'],
      ids: [],
    });
  });

  it('unlink is a delete of args[0]', () => {
    assert.deepStrictEqual(op(executeKw('account.move', 'unlink', [[41, 42]])), {
      system: 'odoo',
      entity: 'account.move',
      action: 'delete',
      method: 'unlink',
      fields: [],
      ids: [41, 42],
    });
  });

  it('action_post is a call on account.move with the ids', () => {
    assert.deepStrictEqual(op(executeKw('account.move', 'action_post', [[44]])), {
      system: 'odoo',
      entity: 'account.move',
      action: 'call',
      method: 'action_post',
      fields: [],
      ids: [44],
    });
  });

  it('a record method called with a bare id (Odoo accepts it) still carries the id', () => {
    assert.deepStrictEqual(op(executeKw('sale.order', 'action_confirm', [5])), {
      system: 'odoo',
      entity: 'sale.order',
      action: 'call',
      method: 'action_confirm',
      fields: [],
      ids: [5],
    });
  });

  it('object.execute (positional arguments) is not read as execute_kw: it is anonymous, and the gateway refuses it', () => {
    const execute = { jsonrpc: '2.0', method: 'call', params: { service: 'object', method: 'execute', args: ['x', 0, 'nope', 'res.partner', 'write', [10], { phone: '+32 1' }] } };
    assert.deepStrictEqual(op(execute), { system: 'odoo', entity: '', action: 'call', fields: [], ids: [] });
  });

  it('anything that is not object.execute_kw is an anonymous call', () => {
    const authenticate = { jsonrpc: '2.0', method: 'call', params: { service: 'common', method: 'authenticate', args: ['retail', 'admin', 'pw', {}] } };
    const anonymous: BusinessOperation = { system: 'odoo', entity: '', action: 'call', fields: [], ids: [] };
    assert.deepStrictEqual(op(authenticate), anonymous);
    assert.deepStrictEqual(op(undefined), anonymous);
    assert.deepStrictEqual(op({ params: { service: 'object', method: 'execute_kw', args: ['x', 0, 'nope'] } }), anonymous);
  });
});

describe('salesforce extractOperation', () => {
  const adapter = salesforceAdapter.create(
    { accessToken: { env: 'SF_TOKEN' }, limitRetryAfterSeconds: 300 },
    stubEnv('http://sf.test/services/data/v62.0'),
  );
  const op = (method: string, path: string, body?: unknown): BusinessOperation => adapter.extractOperation(method, path, body);

  it('POST /sobjects/Account is a create with the body fields', () => {
    assert.deepStrictEqual(op('POST', '/sobjects/Account', { Name: 'Acme', Industry: 'Retail' }), {
      system: 'salesforce',
      entity: 'Account',
      action: 'create',
      fields: ['Name', 'Industry'],
      ids: [],
    });
  });

  it('PATCH, DELETE and GET on /sobjects/Account/{id} are update, delete and read of that id', () => {
    assert.deepStrictEqual(op('PATCH', `/sobjects/Account/${ACCOUNT_1}`, { Phone: '+32 3 555 01 99' }), {
      system: 'salesforce',
      entity: 'Account',
      action: 'update',
      fields: ['Phone'],
      ids: [ACCOUNT_1],
    });
    assert.deepStrictEqual(op('DELETE', `/sobjects/Account/${ACCOUNT_1}`), {
      system: 'salesforce',
      entity: 'Account',
      action: 'delete',
      fields: [],
      ids: [ACCOUNT_1],
    });
    assert.deepStrictEqual(op('GET', `/sobjects/Account/${ACCOUNT_1}?fields=Name,Phone`), {
      system: 'salesforce',
      entity: 'Account',
      action: 'read',
      fields: [],
      ids: [ACCOUNT_1],
    });
  });

  it('PATCH by external id (upsert) carries the external value as the id', () => {
    assert.deepStrictEqual(op('PATCH', '/sobjects/Account/ERP_Customer_Id__c/C-1009', { Name: 'New Shop', Type: 'Prospect' }), {
      system: 'salesforce',
      entity: 'Account',
      action: 'update',
      fields: ['Name', 'Type'],
      ids: ['C-1009'],
    });
  });

  it('a SOQL query is a read of the FROM object', () => {
    assert.deepStrictEqual(op('GET', '/query?q=SELECT+Id,Name+FROM+Account+WHERE+Industry+=+%27Retail%27'), {
      system: 'salesforce',
      entity: 'Account',
      action: 'read',
      fields: [],
      ids: [],
    });
    assert.deepStrictEqual(op('GET', `/queryAll/?q=${encodeURIComponent('select Id from Contact limit 1')}`), {
      system: 'salesforce',
      entity: 'Contact',
      action: 'read',
      fields: [],
      ids: [],
    });
  });

  it('composite is a call whose parts are the sub-requests', () => {
    const body = {
      allOrNone: true,
      compositeRequest: [
        { method: 'POST', url: '/services/data/v62.0/sobjects/Account', referenceId: 'acc', body: { Name: 'Acme' } },
        { method: 'patch', url: `/services/data/v62.0/sobjects/Contact/${CONTACT_2}`, referenceId: 'con', body: { AccountId: '@{acc.id}', Title: 'Buyer' } },
        { method: 'GET', url: '/services/data/v62.0/query?q=SELECT+Id+FROM+Order', referenceId: 'orders' },
        { url: '/services/data/v62.0/sobjects/Case/@{acc.id}', referenceId: 'case' },
      ],
    };
    assert.deepStrictEqual(op('POST', '/composite', body), {
      system: 'salesforce',
      entity: 'composite',
      action: 'call',
      fields: [],
      ids: [],
      parts: [
        { system: 'salesforce', entity: 'Account', action: 'create', fields: ['Name'], ids: [] },
        { system: 'salesforce', entity: 'Contact', action: 'update', fields: ['AccountId', 'Title'], ids: [CONTACT_2] },
        { system: 'salesforce', entity: 'Order', action: 'read', fields: [], ids: [] },
        { system: 'salesforce', entity: 'Case', action: 'read', fields: [], ids: ['@{acc.id}'] },
      ],
    });
  });
});

describe('zendesk extractOperation', () => {
  const adapter = zendeskAdapter.create({ email: 'bot@shop.example', apiToken: { env: 'ZD_TOKEN' } }, stubEnv('http://zd.test/api/v2'));
  const op = (method: string, path: string, body?: unknown): BusinessOperation => adapter.extractOperation(method, path, body);

  it('POST /tickets.json is a ticket create with the ticket fields', () => {
    assert.deepStrictEqual(op('POST', '/tickets.json', { ticket: { subject: 'Broken lamp', comment: { body: 'Dented' }, priority: 'high' } }), {
      system: 'zendesk',
      entity: 'ticket',
      action: 'create',
      fields: ['subject', 'comment', 'priority'],
      ids: [],
    });
  });

  it('PUT /tickets/{id}.json is an update of that ticket', () => {
    assert.deepStrictEqual(op('PUT', '/tickets/1001.json', { ticket: { status: 'solved' } }), {
      system: 'zendesk',
      entity: 'ticket',
      action: 'update',
      fields: ['status'],
      ids: [1001],
    });
  });

  it('GET /tickets/{id} (with or without .json) is a read of that ticket; a list has no ids', () => {
    const show: BusinessOperation = { system: 'zendesk', entity: 'ticket', action: 'read', fields: [], ids: [1004] };
    assert.deepStrictEqual(op('GET', '/tickets/1004.json'), show);
    assert.deepStrictEqual(op('GET', '/tickets/1004'), show);
    assert.deepStrictEqual(op('GET', '/tickets.json?page[size]=2'), { system: 'zendesk', entity: 'ticket', action: 'read', fields: [], ids: [] });
    assert.deepStrictEqual(op('DELETE', '/tickets/1005.json'), { system: 'zendesk', entity: 'ticket', action: 'delete', fields: [], ids: [1005] });
  });

  it('another resource is named by its last path segment, without .json or the query string', () => {
    assert.deepStrictEqual(op('GET', '/search.json?query=type:ticket'), { system: 'zendesk', entity: 'search', action: 'read', fields: [], ids: [] });
    assert.deepStrictEqual(op('GET', '/search?query=type:ticket'), { system: 'zendesk', entity: 'search', action: 'read', fields: [], ids: [] });
  });
});

describe('http extractOperation', () => {
  const adapter = httpAdapter.create({}, stubEnv('http://svc.test/api'));
  const op = (method: string, path: string, body?: unknown): BusinessOperation => adapter.extractOperation(method, path, body);

  it('the first segment is the entity, the second the id, the method the action', () => {
    assert.deepStrictEqual(op('GET', '/orders/42?expand=lines'), { system: 'http', entity: 'orders', action: 'read', fields: [], ids: ['42'] });
    assert.deepStrictEqual(op('POST', '/orders', { customer: 'C-1', lines: [] }), {
      system: 'http',
      entity: 'orders',
      action: 'create',
      fields: ['customer', 'lines'],
      ids: [],
    });
    assert.deepStrictEqual(op('PUT', '/orders/42', { status: 'paid' }), { system: 'http', entity: 'orders', action: 'update', fields: ['status'], ids: ['42'] });
    assert.deepStrictEqual(op('PATCH', '/orders/42/lines/3', { qty: 2 }), { system: 'http', entity: 'orders', action: 'update', fields: ['qty'], ids: ['42'] });
    assert.deepStrictEqual(op('DELETE', '/orders/42'), { system: 'http', entity: 'orders', action: 'delete', fields: [], ids: ['42'] });
    assert.deepStrictEqual(op('OPTIONS', '/'), { system: 'http', entity: '', action: 'call', fields: [], ids: [] });
  });
});
