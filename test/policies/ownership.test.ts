/**
 * `ownership` through a real gateway in front of the Odoo (JSON-2 and JSON-RPC), Salesforce and
 * Zendesk simulators, with the retail registry of upstreams.md §4: the service desk writing an
 * invoice's payment state is refused through every protocol with zero upstream calls, the
 * finance consumer (speaking for the ERP) may; an enrichment grant opens one field and no
 * other; deletes, business methods and unknown methods need the owner; every Salesforce
 * composite part is judged; reads pass; every refusal is in the access records.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Problem } from '../../contracts/index.js';
import { answerOf, assertProblem, type Answer } from '../gateway/upstreams/helpers.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import {
  executeKw,
  KEYS,
  ODOO_OPTIONS,
  PLANS,
  RETAIL_OWNERSHIP,
  retailApis,
  retailConsumers,
  SECRETS,
  SF_API_PATH,
  ZENDESK_EMAIL,
  type UpstreamUrls,
} from '../support/retail-governance.js';
import {
  salesforceId,
  startOdooSimulator,
  startSalesforceSimulator,
  startZendeskSimulator,
  type OdooSimulatorHandle,
  type SalesforceSimulatorHandle,
  type ZendeskSimulatorHandle,
} from '../simulators/index.js';

const INVOICE_SF = salesforceId('a0I', 4);
const CASE_SF = salesforceId('500', 1);

describe('ownership', () => {
  let odoo: OdooSimulatorHandle;
  let sf: SalesforceSimulatorHandle;
  let zd: ZendeskSimulatorHandle;
  let gw: TestGateway;
  let urls: UpstreamUrls;

  before(async () => {
    odoo = await startOdooSimulator(ODOO_OPTIONS);
    sf = await startSalesforceSimulator({ clients: [], staticTokens: [SECRETS.SF_TOKEN] });
    zd = await startZendeskSimulator({ email: ZENDESK_EMAIL, apiToken: SECRETS.ZD_TOKEN });
    urls = { odoo: odoo.url, salesforce: sf.url, zendesk: zd.url };
    gw = await startTestGateway({ snapshot: snapshot(), secrets: SECRETS });
  });

  after(async () => {
    await gw?.close();
    await Promise.all([odoo?.close(), sf?.close(), zd?.close()]);
  });

  beforeEach(() => {
    odoo.resetCalls();
    sf.resetCalls();
    zd.resetCalls();
  });

  function snapshot(options: { ownership?: typeof RETAIL_OWNERSHIP | null } = {}) {
    return buildSnapshot({
      apis: retailApis(urls, () => [{ policy: 'ownership', config: {} }]),
      plans: PLANS,
      consumers: retailConsumers(),
      ...(options.ownership === null ? {} : { ownership: options.ownership ?? RETAIL_OWNERSHIP }),
    });
  }

  const upstreamCalls = (): number => odoo.calls.length + sf.calls.length + zd.calls.length;

  async function send(key: string, method: string, path: string, json?: unknown): Promise<Answer> {
    const headers: Record<string, string> = { 'x-api-key': key };
    if (json !== undefined) headers['content-type'] = 'application/json';
    return answerOf(await fetch(`${gw.url}${path}`, { method, headers, ...(json === undefined ? {} : { body: JSON.stringify(json) }) }));
  }

  /** A 403 `ownership.write_denied` naming what it should, nothing sent upstream, and its access record. */
  async function assertRefused(answer: Answer, expected: { entity: string | null; fields: string[]; owners: string[] }): Promise<Problem> {
    const problem = assertProblem(answer, 403, 'ownership.write_denied');
    assert.equal(problem.entity, expected.entity);
    assert.deepEqual(problem.fields, expected.fields);
    assert.deepEqual(problem.owners, expected.owners);
    for (const owner of expected.owners) assert.match(problem.detail, new RegExp(`\\b${owner}\\b`));
    if (expected.entity !== null) assert.match(problem.detail, new RegExp(`\\b${expected.entity}\\b`));
    for (const field of expected.fields) assert.match(problem.detail, new RegExp(field));
    assert.equal(upstreamCalls(), 0, 'nothing reached an upstream');
    const record = await gw.waitForRecord((r) => r.requestId === answer.headers.get('x-request-id'));
    assert.equal(record.decision, 'ownership.write_denied');
    assert.equal(record.status, 403);
    return problem;
  }

  describe("an invoice's payment state", () => {
    const invoice = () => odoo.records('account.move').find((m) => m.id === 44)!;

    it('is refused to the service desk through Odoo JSON-2, with zero upstream calls', async () => {
      const answer = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/write', { ids: [44], vals: { payment_state: 'paid' } });
      const problem = await assertRefused(answer, { entity: 'invoice', fields: ['payment_state'], owners: ['erp'] });
      assert.match(problem.detail, /^Consumer "service-desk" may not write: invoice\.payment_state \(odoo account\.move\) is owned by erp \(Odoo ERP\)\.$/);
      assert.deepEqual(problem.refused, [{ entity: 'invoice', upstream: 'odoo', model: 'account.move', action: 'update', method: 'write', fields: ['payment_state'], upstreamFields: ['payment_state'], owners: ['erp'] }]);
      assert.equal(invoice().payment_state, 'not_paid');
    });

    it('is refused to the service desk through Odoo JSON-RPC, with zero upstream calls', async () => {
      const answer = await send(KEYS.serviceDesk, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'write', [[44], { payment_state: 'paid' }]));
      await assertRefused(answer, { entity: 'invoice', fields: ['payment_state'], owners: ['erp'] });
      // The keyword form too.
      const kw = await send(KEYS.serviceDesk, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'write', [[44]], { vals: { payment_state: 'paid' } }));
      await assertRefused(kw, { entity: 'invoice', fields: ['payment_state'], owners: ['erp'] });
    });

    it('is refused to the service desk through the Salesforce Invoice__c mirror, whatever the spelling, with zero upstream calls', async () => {
      const answer = await send(KEYS.serviceDesk, 'PATCH', `/crm/v1/sobjects/Invoice__c/${INVOICE_SF}`, { Payment_State__c: 'paid' });
      const problem = await assertRefused(answer, { entity: 'invoice', fields: ['payment_state'], owners: ['erp'] });
      assert.match(problem.detail, /invoice\.payment_state \(Payment_State__c\) \(salesforce Invoice__c\) is owned by erp/);
      // Salesforce reads object and field names case-insensitively; so does the gateway.
      const lower = await send(KEYS.serviceDesk, 'PATCH', `/crm/v1/sobjects/invoice__c/${INVOICE_SF}`, { payment_state__c: 'paid' });
      await assertRefused(lower, { entity: 'invoice', fields: ['payment_state'], owners: ['erp'] });
      assert.equal(sf.records('Invoice__c').find((r) => r.Id === INVOICE_SF)?.Payment_State__c, 'not_paid');
    });

    it('is refused to a consumer that speaks for no system', async () => {
      const answer = await send(KEYS.storefront, 'POST', '/erp/v1/account.move/write', { ids: [44], vals: { payment_state: 'paid' } });
      await assertRefused(answer, { entity: 'invoice', fields: ['payment_state'], owners: ['erp'] });
    });

    it('may be written by the finance consumer, which speaks for the ERP, through each protocol', async () => {
      const json2 = await send(KEYS.finance, 'POST', '/erp/v1/account.move/write', { ids: [44], vals: { payment_state: 'partial' } });
      assert.equal(json2.status, 200, json2.text);
      assert.equal(invoice().payment_state, 'partial');
      const rpc = await send(KEYS.finance, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'write', [[44], { payment_state: 'in_payment' }]));
      assert.equal(rpc.status, 200, rpc.text);
      assert.equal(invoice().payment_state, 'in_payment');
      const mirror = await send(KEYS.finance, 'PATCH', `/crm/v1/sobjects/Invoice__c/${INVOICE_SF}`, { Payment_State__c: 'in_payment' });
      assert.equal(mirror.status, 204, mirror.text);
      assert.equal(sf.records('Invoice__c').find((r) => r.Id === INVOICE_SF)?.Payment_State__c, 'in_payment');
      assert.equal(odoo.calls.length, 2);
      assert.equal(sf.calls.length, 1);
      for (const answer of [json2, rpc, mirror]) {
        const record = await gw.waitForRecord((r) => r.requestId === answer.headers.get('x-request-id'));
        assert.equal(record.decision, 'allow');
        assert.equal(record.consumer, 'finance-jobs');
      }
    });
  });

  describe('enrichment grants', () => {
    it("let the service desk write the granted field (an invoice's ref) and no other", async () => {
      const allowed = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/write', { ids: [43], vals: { ref: 'ZD-1002' } });
      assert.equal(allowed.status, 200, allowed.text);
      assert.equal(odoo.calls.length, 1);
      assert.equal(odoo.records('account.move').find((m) => m.id === 43)?.ref, 'ZD-1002');
      odoo.resetCalls();

      const mixed = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/write', { ids: [43], vals: { ref: 'ZD-1002b', amount_residual: 0, payment_state: 'paid' } });
      await assertRefused(mixed, { entity: 'invoice', fields: ['amount_residual', 'payment_state'], owners: ['erp'] });
      const other = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/write', { ids: [43], vals: { invoice_date_due: '2026-01-01' } });
      await assertRefused(other, { entity: 'invoice', fields: ['invoice_date_due'], owners: ['erp'] });
      assert.equal(odoo.records('account.move').find((m) => m.id === 43)?.ref, 'ZD-1002');
    });

    it('are per consumer: the storefront holds none', async () => {
      const answer = await send(KEYS.storefront, 'POST', '/erp/v1/account.move/write', { ids: [43], vals: { ref: 'web' } });
      await assertRefused(answer, { entity: 'invoice', fields: ['ref'], owners: ['erp'] });
    });
  });

  describe('methods, deletes and split ownership', () => {
    it('refuses an unknown Odoo method on an owned model (fail closed), through JSON-2 and JSON-RPC', async () => {
      const json2 = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/frobnicate', { ids: [44] });
      const problem = await assertRefused(json2, { entity: 'invoice', fields: [], owners: ['erp'] });
      assert.match(problem.detail, /calling frobnicate on invoice records \(odoo account\.move\) needs its owner erp/);
      const rpc = await send(KEYS.serviceDesk, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'frobnicate', [[44]]));
      await assertRefused(rpc, { entity: 'invoice', fields: [], owners: ['erp'] });
    });

    it('refuses business methods (action_post, button_draft, action_confirm) to a consumer that does not own the record', async () => {
      for (const [model, method, entity] of [
        ['account.move', 'action_post', 'invoice'],
        ['account.move', 'button_draft', 'invoice'],
        ['sale.order', 'action_confirm', 'order'],
      ] as const) {
        const answer = await send(KEYS.serviceDesk, 'POST', `/erp/v1/${model}/${method}`, { ids: [5] });
        await assertRefused(answer, { entity, fields: [], owners: ['erp'] });
      }
    });

    it('lets the owner call methods, unknown ones included: the ERP answers for itself', async () => {
      const confirm = await send(KEYS.finance, 'POST', '/erp/v1/sale.order/action_confirm', { ids: [5] });
      assert.equal(confirm.status, 200, confirm.text);
      assert.equal(odoo.records('sale.order').find((o) => o.id === 5)?.state, 'sale');
      const unknown = await send(KEYS.finance, 'POST', '/erp/v1/account.move/frobnicate', { ids: [44] });
      assertProblem(unknown, 404, 'upstream.not_found');
      assert.equal(odoo.calls.length, 2);
    });

    it('needs the entity owner for deletes, whatever the protocol', async () => {
      const odooDelete = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/unlink', { ids: [44] });
      const problem = await assertRefused(odooDelete, { entity: 'invoice', fields: [], owners: ['erp'] });
      assert.match(problem.detail, /deleting invoice records \(odoo account\.move\) needs its owner erp/);
      const sfDelete = await send(KEYS.serviceDesk, 'DELETE', `/crm/v1/sobjects/Invoice__c/${INVOICE_SF}`);
      await assertRefused(sfDelete, { entity: 'invoice', fields: [], owners: ['erp'] });
      const zdDelete = await send(KEYS.finance, 'DELETE', '/desk/v1/tickets/1005.json');
      await assertRefused(zdDelete, { entity: 'case', fields: [], owners: ['service-desk'] });
    });

    it('judges each field by its own owner where ownership is split (customer: CRM, but vat and ref are the ERP\'s)', async () => {
      const answer = await send(KEYS.serviceDesk, 'POST', '/erp/v1/res.partner/write', { ids: [12], vals: { phone: '+1 503 555 0100', vat: 'US123' } });
      const problem = await assertRefused(answer, { entity: 'customer', fields: ['phone', 'vat'], owners: ['crm', 'erp'] });
      assert.match(problem.detail, /customer\.\{phone, vat\} \(odoo res\.partner\) is owned by crm \(Salesforce CRM\), erp \(Odoo ERP\)/);
      // Finance (ERP) may set vat, not the CRM's phone.
      const finance = await send(KEYS.finance, 'POST', '/erp/v1/res.partner/write', { ids: [12], vals: { phone: '+1 503 555 0100', vat: 'US123' } });
      await assertRefused(finance, { entity: 'customer', fields: ['phone'], owners: ['crm'] });
      const vat = await send(KEYS.finance, 'POST', '/erp/v1/res.partner/write', { ids: [12], vals: { vat: 'US123' } });
      assert.equal(vat.status, 200, vat.text);
    });

    it('refuses a create naming an owned field, and a write whose fields cannot be read', async () => {
      const create = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/create', { vals_list: [{ move_type: 'out_invoice', partner_id: 10 }] });
      await assertRefused(create, { entity: 'invoice', fields: ['move_type', 'partner_id'], owners: ['erp'] });
      // Not declared as JSON: the gateway cannot see the fields, so the write needs the owner.
      const res = await fetch(`${gw.url}/crm/v1/sobjects/Invoice__c/${INVOICE_SF}`, {
        method: 'PATCH',
        headers: { 'x-api-key': KEYS.serviceDesk, 'content-type': 'text/plain' },
        body: JSON.stringify({ Payment_State__c: 'paid' }),
      });
      const answer = await answerOf(res);
      await assertRefused(answer, { entity: 'invoice', fields: [], owners: ['erp'] });
    });
  });

  describe('Salesforce composite', () => {
    const sub = (method: string, url: string, referenceId: string, body?: unknown) => ({ method, url: `${SF_API_PATH}${url}`, referenceId, ...(body === undefined ? {} : { body }) });

    it('refuses the whole request when one part writes what the caller does not own, naming that part', async () => {
      const answer = await send(KEYS.serviceDesk, 'POST', '/crm/v1/composite', {
        allOrNone: true,
        compositeRequest: [
          sub('GET', `/sobjects/Invoice__c/${INVOICE_SF}`, 'inv'),
          sub('PATCH', `/sobjects/Case/${CASE_SF}`, 'case', { Status: 'Escalated' }),
          sub('PATCH', `/sobjects/Invoice__c/${INVOICE_SF}`, 'pay', { Payment_State__c: 'paid', Amount_Due__c: 0 }),
        ],
      });
      const problem = await assertRefused(answer, { entity: 'invoice', fields: ['payment_state', 'amount_residual'], owners: ['erp'] });
      assert.equal((problem.refused as unknown[]).length, 1);
    });

    it('lets a composite through when every write part is the caller\'s own and reads are free', async () => {
      const answer = await send(KEYS.serviceDesk, 'POST', '/crm/v1/composite', {
        allOrNone: true,
        compositeRequest: [sub('GET', `/sobjects/Invoice__c/${INVOICE_SF}`, 'inv'), sub('PATCH', `/sobjects/Case/${CASE_SF}`, 'case', { Status: 'Escalated' })],
      });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(sf.calls.length, 1);
      assert.equal(sf.records('Case').find((c) => c.Id === CASE_SF)?.Status, 'Escalated');
    });

    it('refuses a part on an object no entity maps (fail closed)', async () => {
      const answer = await send(KEYS.finance, 'POST', '/crm/v1/composite', {
        compositeRequest: [sub('POST', '/sobjects/Contact', 'c', { LastName: 'Doe' })],
      });
      const problem = await assertRefused(answer, { entity: null, fields: ['LastName'], owners: [] });
      assert.match(problem.detail, /no system of record is registered for salesforce model "Contact"/);
    });
  });

  describe('the service desk\'s own records', () => {
    it('are writable by it through Zendesk, not by the storefront', async () => {
      const own = await send(KEYS.serviceDesk, 'PUT', '/desk/v1/tickets/1001.json', { ticket: { status: 'pending', comment: { body: 'Asked the warehouse.', public: false } } });
      assert.equal(own.status, 200, own.text);
      assert.equal(zd.calls.length, 1);
      zd.resetCalls();
      const web = await send(KEYS.storefront, 'PUT', '/desk/v1/tickets/1001.json', { ticket: { status: 'solved' } });
      await assertRefused(web, { entity: 'case', fields: ['status'], owners: ['service-desk'] });
    });
  });

  describe('reads', () => {
    it('are never affected, whoever reads and through whatever protocol', async () => {
      const answers = [
        await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/search_read', { domain: [], fields: ['name', 'payment_state'] }),
        await send(KEYS.storefront, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'read', [[41], ['payment_state']])),
        await send(KEYS.serviceDesk, 'GET', `/crm/v1/sobjects/Invoice__c/${INVOICE_SF}`),
        await send(KEYS.storefront, 'GET', `/crm/v1/query?q=${encodeURIComponent('SELECT Id, Payment_State__c FROM Invoice__c')}`),
        await send(KEYS.storefront, 'GET', '/desk/v1/tickets/1001.json'),
      ];
      for (const answer of answers) assert.equal(answer.status, 200, answer.text);
      assert.equal(upstreamCalls(), answers.length);
    });

    it('include composites whose parts only read', async () => {
      const answer = await send(KEYS.storefront, 'POST', '/crm/v1/composite', {
        compositeRequest: [{ method: 'GET', url: `${SF_API_PATH}/sobjects/Invoice__c/${INVOICE_SF}`, referenceId: 'inv' }],
      });
      assert.equal(answer.status, 200, answer.text);
    });
  });

  describe('unmapped models', () => {
    it('refuse writes by default (deny), to the ERP\'s own consumer too', async () => {
      const answer = await send(KEYS.finance, 'POST', '/erp/v1/res.partner.bank/write', { ids: [1], vals: { bank_name: 'Other' } });
      const problem = await assertRefused(answer, { entity: null, fields: ['bank_name'], owners: [] });
      assert.match(problem.detail, /no system of record is registered for odoo model "res\.partner\.bank"/);
    });

    it('pass with unmappedWrites: allow', async () => {
      const open = buildSnapshot({
        apis: retailApis(urls, (slug) => [{ policy: 'ownership', config: slug.startsWith('erp') ? { unmappedWrites: 'allow' } : {} }]),
        plans: PLANS,
        consumers: retailConsumers(),
        ownership: RETAIL_OWNERSHIP,
      });
      try {
        await gw.source.push(JSON.stringify(open));
        assert.equal(gw.gateway.currentHash(), open.hash);
        const answer = await send(KEYS.finance, 'POST', '/erp/v1/res.partner.bank/write', { ids: [1], vals: { bank_name: 'Retail Demo Bank' } });
        assert.equal(answer.status, 200, answer.text);
        // Mapped models are still judged.
        const owned = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/write', { ids: [44], vals: { payment_state: 'paid' } });
        assert.equal(owned.status, 403);
        // A call whose model the gateway cannot read is no "unmapped model": still refused.
        odoo.resetCalls();
        const res = await fetch(`${gw.url}/erp-rpc/v1/jsonrpc`, {
          method: 'POST',
          headers: { 'x-api-key': KEYS.serviceDesk, 'content-type': 'text/plain' },
          body: JSON.stringify(executeKw('account.move', 'write', [[44], { payment_state: 'paid' }])),
        });
        const problem = await assertRefused(await answerOf(res), { entity: null, fields: [], owners: [] });
        assert.match(problem.detail, /cannot tell which odoo model this call writes/);
      } finally {
        await gw.source.push(JSON.stringify(snapshot()));
      }
    });
  });

  describe('the registry', () => {
    it('absent from the snapshot: every write is refused, reads pass', async () => {
      const bare = snapshot({ ownership: null });
      try {
        await gw.source.push(JSON.stringify(bare));
        assert.equal(gw.gateway.currentHash(), bare.hash);
        const write = await send(KEYS.finance, 'POST', '/erp/v1/account.move/write', { ids: [44], vals: { ref: 'x' } });
        const problem = await assertRefused(write, { entity: null, fields: [], owners: [] });
        assert.match(problem.detail, /no system-of-record registry/);
        const read = await send(KEYS.finance, 'POST', '/erp/v1/account.move/search_read', { domain: [], fields: ['name'] });
        assert.equal(read.status, 200);
      } finally {
        await gw.source.push(JSON.stringify(snapshot()));
      }
    });

    it('with a dangling owner or a model mapped twice rejects the snapshot; the last good one keeps serving', async () => {
      const before = gw.gateway.currentHash();
      const broken = structuredClone(RETAIL_OWNERSHIP);
      broken.entities[0]!.owner = 'billing';
      broken.entities[1]!.mappings.push({ upstream: 'odoo', model: 'account.move', fields: {} });
      const result = await gw.gateway.apply(JSON.stringify(snapshot({ ownership: broken })), 'test');
      assert.equal(result.applied, false);
      assert.match(result.error ?? '', /ownership\.entities\[invoice\]\.owner: unknown system "billing"/);
      assert.match(result.error ?? '', /odoo model "account\.move" is already mapped to entity "invoice"/);
      assert.equal(gw.gateway.currentHash(), before);
    });
  });
});
