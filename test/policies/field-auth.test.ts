/**
 * `field-auth` through a real gateway in front of the Odoo, Salesforce and Zendesk simulators:
 * hidden fields never reach the consumer in any response shape (Odoo JSON-2 and JSON-RPC
 * `search_read` / `read`, Salesforce records, query results and composite sub-responses,
 * Zendesk `{ticket}` / `{tickets}`), nor through a cache hit, a shared cache entry another
 * consumer stored, a stale-if-error answer or an idempotent replay; a read naming a hidden
 * field and a write setting a denied one are refused with 403 `access.field_denied` and zero
 * upstream calls; an answer that cannot be masked is withheld, never sent unmasked.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApiSpec, PolicyBinding } from '../../contracts/index.js';
import { createSnapshotAjv } from '../../gateway/snapshot/compile.js';
import { fieldAuthPolicy } from '../../policies/index.js';
import { answerOf, assertProblem, upstreamApi, type Answer } from '../gateway/upstreams/helpers.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import {
  executeKw,
  KEYS,
  ODOO_OPTIONS,
  PLANS,
  retailApis,
  retailConsumers,
  SECRETS,
  SF_API_PATH,
  SF_OPERATIONS,
  SLUGS,
  withIdentity,
  ZENDESK_EMAIL,
} from '../support/retail-governance.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';
import {
  salesforceId,
  startOdooSimulator,
  startSalesforceSimulator,
  startZendeskSimulator,
  type OdooSimulatorHandle,
  type SalesforceSimulatorHandle,
  type ZendeskSimulatorHandle,
} from '../simulators/index.js';

const INVOICE_SF = salesforceId('a0I', 2);
const BANK_ACCOUNT = 'BE71 0961 2345 6769';

/** The service desk sees invoices but not the bank details, and may not set them nor the payment state. */
const INVOICE_RULES = [
  { consumers: ['service-desk'], models: ['account.move', 'Invoice__c'], hide: ['partner_bank_id', 'Bank_Account__c'], denyWrite: ['partner_bank_id', 'Bank_Account__c', 'Payment_State__c'] },
  // Mass assignment: storefront-plan callers may not set a customer's tax id or rank.
  { plans: ['storefront'], models: ['res.partner'], hide: [], denyWrite: ['vat', 'customer_rank'] },
  // Finance jobs do not need full bank account numbers (an account's display name is its number).
  { plans: ['finance'], models: ['res.partner.bank'], hide: ['acc_number', 'display_name'], denyWrite: [] },
];
/** Storefront-plan callers see tickets without who handles them inside. */
const TICKET_RULES = [{ plans: ['storefront'], models: ['ticket'], hide: ['assignee_id', 'group_id', 'tags'], denyWrite: [] }];

const EXTRA_SLUGS = ['crm-open', 'raw'] as const;

describe('field-auth', () => {
  let odoo: OdooSimulatorHandle;
  let sf: SalesforceSimulatorHandle;
  let zd: ZendeskSimulatorHandle;
  let raw: RecordingUpstream;
  let gw: TestGateway;
  let now = Date.parse('2026-11-02T10:00:00.000Z');

  function policiesOf(slug: string): PolicyBinding[] {
    switch (slug) {
      case 'crm':
        return [
          { policy: 'field-auth', config: { rules: INVOICE_RULES } },
          { policy: 'cache', config: { ttlSeconds: 60, staleIfErrorSeconds: 3600, operations: { 'sobject.get': { shared: true } } } },
        ];
      case 'desk':
        return [
          { policy: 'field-auth', config: { rules: TICKET_RULES } },
          { policy: 'idempotency', config: {} },
          { policy: 'cache', config: { ttlSeconds: 60 } },
        ];
      default:
        return [{ policy: 'field-auth', config: { rules: INVOICE_RULES } }];
    }
  }

  before(async () => {
    odoo = await startOdooSimulator(ODOO_OPTIONS);
    sf = await startSalesforceSimulator({ clients: [], staticTokens: [SECRETS.SF_TOKEN] });
    zd = await startZendeskSimulator({ email: ZENDESK_EMAIL, apiToken: SECRETS.ZD_TOKEN });
    raw = await startRecordingUpstream();
    const apis: ApiSpec[] = [
      ...retailApis({ odoo: odoo.url, salesforce: sf.url, zendesk: zd.url }, policiesOf),
      // The same Salesforce org, where reads may name hidden fields: their answers are masked instead.
      withPolicies(upstreamApi('crm-open', 'salesforce', `${sf.url}${SF_API_PATH}`, { accessToken: { env: 'SF_TOKEN' }, limitRetryAfterSeconds: 120 }, SF_OPERATIONS), [
        { policy: 'field-auth', config: { rules: INVOICE_RULES, refuseReadsNamingHidden: false } },
      ]),
      withPolicies(httpApi('raw', raw.url, [{ id: 'get', method: 'GET', path: '/{any}' }]), [{ policy: 'field-auth', config: { rules: [{ hide: ['secret'], denyWrite: [] }], maxResponseBytes: 1024 } }]),
    ];
    gw = await startTestGateway({
      snapshot: buildSnapshot({ apis, plans: PLANS, consumers: retailConsumers([...SLUGS, ...EXTRA_SLUGS]) }),
      secrets: SECRETS,
      clock: { now: () => now },
    });
  });

  after(async () => {
    await gw?.close();
    await Promise.all([odoo?.close(), sf?.close(), zd?.close(), raw?.close()]);
  });

  beforeEach(() => {
    odoo.resetCalls();
    sf.resetCalls();
    zd.resetCalls();
    raw.seen.length = 0;
  });

  function withPolicies(api: ApiSpec, policies: PolicyBinding[]): ApiSpec {
    return { ...api, versions: api.versions.map((v) => ({ ...v, policies: withIdentity(policies) })) };
  }

  const upstreamCalls = (): number => odoo.calls.length + sf.calls.length + zd.calls.length + raw.seen.length;

  async function send(key: string, method: string, path: string, json?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const all: Record<string, string> = { 'x-api-key': key, ...headers };
    if (json !== undefined) all['content-type'] = 'application/json';
    return answerOf(await fetch(`${gw.url}${path}`, { method, headers: all, ...(json === undefined ? {} : { body: JSON.stringify(json) }) }));
  }

  /** Every key of every object in the document, at any depth. */
  function keysOf(value: unknown, out = new Set<string>()): Set<string> {
    if (Array.isArray(value)) for (const item of value) keysOf(item, out);
    else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        out.add(key);
        keysOf(item, out);
      }
    }
    return out;
  }

  function assertMasked(answer: Answer, hidden: readonly string[], expectKeys: readonly string[] = []): void {
    assert.equal(answer.status, 200, answer.text);
    const keys = keysOf(answer.json);
    for (const name of hidden) {
      assert.ok(!keys.has(name), `${name} reached the consumer: ${answer.text.slice(0, 300)}`);
      assert.ok(!answer.text.includes(`"${name}"`), `${name} appears in the body`);
    }
    for (const name of expectKeys) assert.ok(keys.has(name), `${name} is missing: ${answer.text.slice(0, 300)}`);
  }

  async function assertFieldDenied(answer: Answer, fields: string[]): Promise<void> {
    const problem = assertProblem(answer, 403, 'access.field_denied');
    assert.deepEqual(problem.fields, fields);
    for (const field of fields) assert.ok(problem.detail.includes(field), problem.detail);
    assert.equal(upstreamCalls(), 0, 'nothing reached an upstream');
    const record = await gw.waitForRecord((r) => r.requestId === answer.headers.get('x-request-id'));
    assert.equal(record.decision, 'access.field_denied');
  }

  describe('hidden fields never reach the consumer', () => {
    it('in Odoo JSON-2 search_read and read arrays (every field asked for implicitly)', async () => {
      const list = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/search_read', { domain: [] });
      assertMasked(list, ['partner_bank_id'], ['payment_state', 'amount_residual']);
      assert.equal((list.json as unknown[]).length, 4);
      const read = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/read', { ids: [41, 42] });
      assertMasked(read, ['partner_bank_id'], ['payment_state']);
      // The finance consumer has no such rule: the same call shows the field.
      const finance = await send(KEYS.finance, 'POST', '/erp/v1/account.move/read', { ids: [41] });
      assert.deepEqual((finance.json as Array<Record<string, unknown>>)[0]!.partner_bank_id, [1, BANK_ACCOUNT]);
      assert.equal(odoo.calls.length, 3);
    });

    it('when the gateway cannot tell the model (a JSON-RPC body not sent as JSON): every rule of the caller masks', async () => {
      const res = await fetch(`${gw.url}/erp-rpc/v1/jsonrpc`, {
        method: 'POST',
        headers: { 'x-api-key': KEYS.finance, 'content-type': 'text/plain' },
        body: JSON.stringify(executeKw('res.partner.bank', 'search_read', [[]])),
      });
      const answer = await answerOf(res);
      assertMasked(answer, ['acc_number', 'display_name'], ['result', 'bank_name']);
      assert.ok(!answer.text.includes(BANK_ACCOUNT));
      assert.equal(odoo.calls.length, 1);
    });

    it('in Odoo JSON-RPC {result: [...]} answers', async () => {
      const list = await send(KEYS.serviceDesk, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'search_read', [[['state', '=', 'posted']]]));
      assertMasked(list, ['partner_bank_id'], ['result', 'payment_state']);
      const read = await send(KEYS.serviceDesk, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'read', [[43]]));
      assertMasked(read, ['partner_bank_id'], ['payment_state']);
      assert.ok(!read.text.includes(BANK_ACCOUNT));
    });

    it('in a Salesforce record, a composite sub-response and (where reads may name it) query results', async () => {
      const record = await send(KEYS.serviceDesk, 'GET', `/crm-open/v1/sobjects/Invoice__c/${INVOICE_SF}`);
      assertMasked(record, ['Bank_Account__c'], ['Payment_State__c', 'Amount_Due__c']);
      const composite = await send(KEYS.serviceDesk, 'POST', '/crm/v1/composite', {
        compositeRequest: [{ method: 'GET', url: `${SF_API_PATH}/sobjects/Invoice__c/${INVOICE_SF}`, referenceId: 'inv' }],
      });
      assertMasked(composite, ['Bank_Account__c'], ['compositeResponse', 'Payment_State__c']);
      const query = await send(KEYS.serviceDesk, 'GET', `/crm-open/v1/query?q=${encodeURIComponent('SELECT Id, Name, Bank_Account__c, Payment_State__c FROM Invoice__c')}`);
      assertMasked(query, ['Bank_Account__c'], ['records', 'Payment_State__c']);
      assert.equal((query.json as { records: unknown[] }).records.length, 4);
      assert.ok(![record, composite, query].some((a) => a.text.includes(BANK_ACCOUNT)));
      assert.equal(sf.calls.length, 3);
    });

    it('in Zendesk {ticket} and {tickets} answers, for the storefront plan only', async () => {
      const one = await send(KEYS.storefront, 'GET', '/desk/v1/tickets/1001.json');
      assertMasked(one, ['assignee_id', 'group_id', 'tags'], ['ticket', 'status', 'subject']);
      const list = await send(KEYS.storefront, 'GET', '/desk/v1/tickets.json');
      assertMasked(list, ['assignee_id', 'group_id', 'tags'], ['tickets', 'status']);
      const desk = await send(KEYS.serviceDesk, 'GET', '/desk/v1/tickets/1001.json');
      assert.deepEqual((desk.json as { ticket: { tags: string[] } }).ticket.tags, ['delivery', 'order']);
    });

    it('from a shared cache entry another consumer stored unmasked (masking runs on every hit)', async () => {
      const path = `/crm/v1/sobjects/Invoice__c/${salesforceId('a0I', 3)}`;
      const finance = await send(KEYS.finance, 'GET', path);
      assert.equal((finance.json as Record<string, unknown>).Bank_Account__c, BANK_ACCOUNT);
      assert.match(finance.headers.get('cache-status') ?? '', /stored/);
      const desk = await send(KEYS.serviceDesk, 'GET', path);
      assert.match(desk.headers.get('cache-status') ?? '', /; hit/);
      assertMasked(desk, ['Bank_Account__c'], ['Payment_State__c']);
      assert.equal(Number(desk.headers.get('content-length')), Buffer.byteLength(desk.text));
      assert.equal(sf.calls.length, 1);
    });

    it('from the consumer\'s own cache entries and from a stale-if-error answer', async () => {
      const path = `/crm/v1/sobjects/Invoice__c/${salesforceId('a0I', 4)}`;
      assertMasked(await send(KEYS.serviceDesk, 'GET', path), ['Bank_Account__c']);
      const hit = await send(KEYS.serviceDesk, 'GET', path);
      assert.match(hit.headers.get('cache-status') ?? '', /; hit/);
      assertMasked(hit, ['Bank_Account__c'], ['Payment_State__c']);
      now += 120_000;
      await sf.goDown();
      try {
        const stale = await send(KEYS.serviceDesk, 'GET', path);
        assert.match(stale.headers.get('cache-status') ?? '', /stale-if-error/);
        assertMasked(stale, ['Bank_Account__c'], ['Payment_State__c']);
      } finally {
        await sf.comeUp();
      }
    });

    it('from an idempotent replay (the kept answer is the upstream\'s, masked again when replayed)', async () => {
      const ticket = { ticket: { subject: 'Where is my order S00007?', comment: { body: 'Ordered a lamp.' }, requester: { name: 'Priya', email: 'priya.shah@mail.example' } } };
      const first = await send(KEYS.storefront, 'POST', '/desk/v1/tickets.json', ticket, { 'idempotency-key': 'web-7f31' });
      assert.equal(first.status, 201, first.text);
      assertMasked({ ...first, status: 200 }, ['assignee_id', 'group_id', 'tags'], ['ticket', 'audit']);
      const replay = await send(KEYS.storefront, 'POST', '/desk/v1/tickets.json', ticket, { 'idempotency-key': 'web-7f31' });
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(replay.status, 201);
      assertMasked({ ...replay, status: 200 }, ['assignee_id', 'group_id', 'tags'], ['ticket']);
      assert.equal(zd.calls.length, 1);
    });
  });

  describe('writes setting a denied field (mass assignment)', () => {
    it('are refused with access.field_denied and zero upstream calls, through every protocol', async () => {
      await assertFieldDenied(await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/write', { ids: [44], vals: { ref: 'ZD', partner_bank_id: 1 } }), ['partner_bank_id']);
      await assertFieldDenied(
        await send(KEYS.serviceDesk, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'create', [[{ move_type: 'out_invoice', partner_bank_id: 1 }]])),
        ['partner_bank_id'],
      );
      await assertFieldDenied(await send(KEYS.serviceDesk, 'PATCH', `/crm/v1/sobjects/Invoice__c/${INVOICE_SF}`, { Payment_State__c: 'paid' }), ['Payment_State__c']);
      await assertFieldDenied(await send(KEYS.serviceDesk, 'PATCH', `/crm/v1/sobjects/invoice__c/${INVOICE_SF}`, { bank_account__c: 'X' }), ['bank_account__c']);
      await assertFieldDenied(
        await send(KEYS.serviceDesk, 'POST', '/crm/v1/composite', {
          compositeRequest: [{ method: 'PATCH', url: `${SF_API_PATH}/sobjects/Invoice__c/${INVOICE_SF}`, referenceId: 'x', body: { Bank_Account__c: 'X' } }],
        }),
        ['Bank_Account__c'],
      );
      await assertFieldDenied(await send(KEYS.storefront, 'POST', '/erp/v1/res.partner/write', { ids: [15], vals: { phone: '+32 2 555 0101', customer_rank: 99 } }), ['customer_rank']);
    });

    it('are refused when the gateway cannot read the body, to a caller denied any field', async () => {
      const res = await fetch(`${gw.url}/erp-rpc/v1/jsonrpc`, {
        method: 'POST',
        headers: { 'x-api-key': KEYS.serviceDesk, 'content-type': 'text/plain' },
        body: JSON.stringify(executeKw('account.move', 'write', [[44], { partner_bank_id: 1 }])),
      });
      const answer = await answerOf(res);
      await assertFieldDenied(answer, []);
      assert.match(answer.text, /fields the gateway could not read on this odoo call/);
    });

    it('leave other fields and other consumers alone', async () => {
      const desk = await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/write', { ids: [44], vals: { ref: 'ZD-1001' } });
      assert.equal(desk.status, 200, desk.text);
      const finance = await send(KEYS.finance, 'POST', '/erp/v1/res.partner/write', { ids: [15], vals: { customer_rank: 3 } });
      assert.equal(finance.status, 200, finance.text);
      assert.equal(odoo.calls.length, 2);
    });
  });

  describe('reads naming a hidden field', () => {
    it('are refused, so no filter, sort or selection serves as an oracle for a hidden value', async () => {
      await assertFieldDenied(await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/search_read', { domain: [], fields: ['name', 'partner_bank_id'] }), ['partner_bank_id']);
      await assertFieldDenied(await send(KEYS.serviceDesk, 'POST', '/erp/v1/account.move/search_count', { domain: [['partner_bank_id.acc_number', '=like', 'BE71%']] }), ['partner_bank_id']);
      await assertFieldDenied(
        await send(KEYS.serviceDesk, 'POST', '/erp-rpc/v1/jsonrpc', executeKw('account.move', 'search_read', [[]], { fields: ['name'], order: 'partner_bank_id desc' })),
        ['partner_bank_id'],
      );
      await assertFieldDenied(
        await send(KEYS.serviceDesk, 'GET', `/crm/v1/query?q=${encodeURIComponent("SELECT Id FROM Invoice__c WHERE Bank_Account__c LIKE 'BE71%'")}`),
        ['Bank_Account__c'],
      );
      await assertFieldDenied(await send(KEYS.serviceDesk, 'GET', `/crm/v1/sobjects/Invoice__c/${INVOICE_SF}?fields=Name,bank_account__c`), ['Bank_Account__c']);
    });
  });

  describe('answers that cannot be masked', () => {
    const answerWith = (status: number, headers: Record<string, string>, body: Buffer | string): void =>
      raw.behave((_req, res) => {
        res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });

    it('are withheld (502) when not JSON, too large, too deep or in an unknown coding, never sent unmasked', async () => {
      const cases: Array<[string, Record<string, string>, Buffer | string, string]> = [
        ['text', { 'content-type': 'text/plain' }, 'secret=PLANTED-hidden-1', 'not-json'],
        ['large', { 'content-type': 'application/json' }, JSON.stringify({ secret: 'PLANTED-hidden-2', pad: 'x'.repeat(2000) }), 'too-large'],
        ['deep', { 'content-type': 'application/json' }, `${'['.repeat(70)}{"secret":"PLANTED-hidden-3"}${']'.repeat(70)}`, 'transform-failed'],
        ['zstd', { 'content-type': 'application/json', 'content-encoding': 'zstd' }, '{"secret":"PLANTED-hidden-4"}', 'content-coding'],
      ];
      for (const [name, headers, body, reason] of cases) {
        answerWith(200, headers, body);
        const answer = await send(KEYS.storefront, 'GET', `/raw/v1/${name}`);
        const problem = assertProblem(answer, 502, 'upstream.error');
        assert.equal(problem.reason, reason, name);
        assert.equal(problem.withheldBy, 'field-auth');
        assert.doesNotMatch(answer.text, /PLANTED-hidden/);
        const record = await gw.waitForRecord((r) => r.requestId === answer.headers.get('x-request-id'));
        assert.equal(record.decision, 'upstream.error');
      }
    });

    it('ask the upstream for identity coding, and decode a gzip answer anyway before masking it', async () => {
      answerWith(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', etag: '"v1"' }, gzipSync(JSON.stringify({ id: 1, secret: 'PLANTED-hidden-5', nested: [{ secret: 'x', keep: true }] })));
      const answer = await send(KEYS.storefront, 'GET', '/raw/v1/zipped', undefined, { 'accept-encoding': 'gzip, br' });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.json, { id: 1, nested: [{ keep: true }] });
      assert.equal(answer.headers.get('content-encoding'), null);
      assert.equal(answer.headers.get('etag'), 'W/"v1"');
      assert.equal(raw.seen[0]!.headers['accept-encoding'], 'identity');
    });

    it('pass as they are when empty', async () => {
      answerWith(204, {}, '');
      const answer = await send(KEYS.storefront, 'GET', '/raw/v1/empty');
      assert.equal(answer.status, 204);
    });
  });

  describe('config', () => {
    it('a rule must hide or deny something, and name only plans the snapshot has', async () => {
      const ajv = createSnapshotAjv();
      const validate = ajv.compile(fieldAuthPolicy.schema);
      assert.equal(validate({ rules: [{ consumers: ['x'] }] }), false);
      assert.equal(validate({ rules: [{ consumers: ['x'], hide: ['a'] }] }), true);
      const result = await gw.gateway.apply(
        JSON.stringify(buildSnapshot({ apis: [withPolicies(httpApi('raw', raw.url, [{ id: 'get', method: 'GET', path: '/{any}' }]), [{ policy: 'field-auth', config: { rules: [{ plans: ['gold'], hide: ['a'] }] } }])], plans: PLANS })),
        'test',
      );
      assert.equal(result.applied, false);
      assert.match(result.error ?? '', /plan "gold" is not in the snapshot/);
    });
  });
});
