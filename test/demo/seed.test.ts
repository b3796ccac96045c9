/**
 * @module The demo seed (control-plane/demo/seed.ts) on both store engines: an empty store gets
 * the catalogue once (a second call, a concurrent one, or a store holding any catalogue writes
 * nothing); every step is a lifecycle transition and an intact audit chain naming the demo's
 * people; the finance key is stored as prefix + SHA-256 only; and the snapshot the publisher
 * builds from it routes exactly what the demo's file snapshot routed before (same operation
 * ids, methods and paths, each with the same scopes, now read from the contracts) and compiles
 * in a real gateway.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { contractOperations, securityAlternatives, type JsonObject } from '../../contracts/index.js';
import { verifyAuditChain } from '../../control-plane/audit/chain.js';
import { DEMO_FINANCE_API_KEY, type DemoEndpoints } from '../../control-plane/demo/catalogue.js';
import { demoCatalogueDrift, SEED_COMMENT, seedDemoCatalogue } from '../../control-plane/demo/seed.js';
import { buildSnapshot, createSnapshotChecker, loadSnapshotState } from '../../control-plane/snapshot/builder.js';
import { startTestGateway } from '../support/gateway-harness.js';
import { ENGINES, openTestStore } from '../support/stores.js';

const ENDPOINTS: DemoEndpoints = {
  issuer: 'http://127.0.0.1:4000/oidc',
  odooUrl: 'http://127.0.0.1:8069',
  salesforceUrl: 'http://127.0.0.1:8070',
  zendeskUrl: 'http://127.0.0.1:8071',
};

/** What the demo's file snapshot (gateway/demo/snapshot.ts before the control plane fed the demo) routed, with each operation's scopes. */
const ROUTES_BEFORE: Record<string, Array<[id: string, method: string, path: string, scope: string]>> = {
  'erp-sales': [
    ['searchSaleOrders', 'POST', '/sale.order/search_read', 'orders:read'],
    ['readSaleOrders', 'POST', '/sale.order/read', 'orders:read'],
    ['createSaleOrders', 'POST', '/sale.order/create', 'orders:write'],
    ['updateSaleOrders', 'POST', '/sale.order/write', 'orders:write'],
    ['confirmSaleOrders', 'POST', '/sale.order/action_confirm', 'orders:write'],
    ['searchProducts', 'POST', '/product.product/search_read', 'products:read'],
    ['searchInvoices', 'POST', '/account.move/search_read', 'invoices:read'],
    ['readInvoices', 'POST', '/account.move/read', 'invoices:read'],
  ],
  'erp-rpc': [['executeKw', 'POST', '/jsonrpc', 'invoices:read']],
  crm: [
    ['getAccount', 'GET', '/sobjects/Account/{id}', 'customers:read'],
    ['updateAccount', 'PATCH', '/sobjects/Account/{id}', 'customers:write'],
    ['createAccount', 'POST', '/sobjects/Account', 'customers:write'],
    ['querySoql', 'GET', '/query', 'customers:read'],
    ['getCase', 'GET', '/sobjects/Case/{id}', 'tickets:read'],
    ['createCase', 'POST', '/sobjects/Case', 'tickets:write'],
  ],
  'service-desk': [
    ['listTickets', 'GET', '/tickets.json', 'tickets:read'],
    ['createTicket', 'POST', '/tickets.json', 'tickets:write'],
    ['showTicket', 'GET', '/tickets/{id}', 'tickets:read'],
    ['updateTicket', 'PUT', '/tickets/{id}', 'tickets:write'],
  ],
};

describe('demo seed', () => {
  for (const engine of ENGINES) {
    it(`seeds an empty ${engine} store once, as its people would have, and the snapshot routes what the demo routed`, async (t) => {
      const store = await openTestStore(t, engine);
      if (store === undefined) return;
      t.after(() => store.dispose());

      // Two starts racing for the same empty store: one seeds, the other finds its catalogue.
      const race = await Promise.all([seedDemoCatalogue(store, { endpoints: ENDPOINTS }), seedDemoCatalogue(store, { endpoints: ENDPOINTS })]);
      assert.deepEqual(race.map((r) => r.seeded).sort(), [false, true]);
      const first = race.find((r) => r.seeded)!;
      // Idempotent: a later start writes nothing.
      assert.deepEqual(await seedDemoCatalogue(store, { endpoints: ENDPOINTS }), { seeded: false });

      const { db } = store;
      assert.deepEqual((await db.selectFrom('apis').select(['slug', 'team_id']).orderBy('slug').execute()).map((a) => `${a.slug} ${a.team_id}`), [
        'crm crm-team',
        'erp-rpc erp-team',
        'erp-sales erp-team',
        'service-desk service-team',
      ]);
      assert.equal((await db.selectFrom('api_versions').selectAll().execute()).every((v) => v.status === 'published' && v.version === '1.0.0'), true);

      // Lifecycle: created and published by the API's owner, approved by the reviewer.
      const versions = await db.selectFrom('api_versions').innerJoin('version_transitions', 'version_transitions.version_id', 'api_versions.id').select(['api_slug', 'from_status', 'to_status', 'actor', 'created_by', 'approved_by']).orderBy('version_transitions.id').execute();
      const erpSales = versions.filter((v) => v.api_slug === 'erp-sales');
      assert.deepEqual(erpSales.map((v) => `${v.from_status}>${v.to_status} ${v.actor}`), ['draft>in_review olivia.owner', 'in_review>approved rafael.reviewer', 'approved>published olivia.owner']);
      assert.ok(versions.every((v) => v.approved_by === 'rafael.reviewer' && v.created_by !== v.approved_by));
      assert.deepEqual([...new Set(versions.filter((v) => v.api_slug === 'crm').map((v) => v.created_by))], ['adam.admin']);

      // One intact, hash-chained audit trail, every event marked as the seed's.
      assert.equal(first.seeded && (await verifyAuditChain(db)).intact, true);
      const events = await db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
      assert.equal(first.seeded ? first.auditEvents : 0, events.length);
      assert.ok(events.every((e) => e.comment?.startsWith(SEED_COMMENT)));
      const actions = (action: string) => events.filter((e) => e.action === action).map((e) => `${e.actor}/${e.role} ${e.target}`);
      assert.deepEqual(actions('version.approve').map((a) => a.split(' ')[0]), Array(4).fill('rafael.reviewer/reviewer'));
      assert.ok(actions('version.publish').includes('olivia.owner/owner apis/erp-sales/versions/1.0.0'));
      assert.equal(actions('subscription.approve').length, 8);
      assert.equal(actions('team.create').length, (await db.selectFrom('teams').select('id').execute()).length);

      // The finance key: prefix + SHA-256 only, never the key, anywhere in the store.
      const keys = await db.selectFrom('api_keys').selectAll().execute();
      assert.deepEqual(keys.map((k) => [k.consumer_id, k.prefix, k.sha256]), [['finance-jobs', 'ghk_finance', createHash('sha256').update(DEMO_FINANCE_API_KEY).digest('hex')]]);
      const secret = DEMO_FINANCE_API_KEY.split('.')[1]!;
      for (const table of ['audit_events', 'consumers', 'api_keys', 'apis', 'api_versions'] as const) {
        const rows = await db.selectFrom(table).selectAll().execute();
        assert.ok(!JSON.stringify(rows).includes(secret), `${table} holds the key`);
      }

      // The snapshot the publisher would build: valid, and the routes and scopes of the old demo snapshot.
      const snapshot = buildSnapshot(await loadSnapshotState(db), { generatedAt: '2026-11-27T00:00:00.000Z' });
      createSnapshotChecker()(snapshot);
      for (const api of snapshot.apis) {
        const [version] = api.versions;
        assert.ok(version !== undefined && api.versions.length === 1);
        const contract = version.contract as JsonObject;
        const byId = contractOperations(contract);
        const routed = version.operations.map((op) => [op.id, op.method, op.path, securityAlternatives(contract, byId.get(op.id)!)!.map((alternative) => alternative.join(' '))[0]!]);
        assert.deepEqual(routed, ROUTES_BEFORE[api.slug], api.slug);
        // An API key is an alternative only where the finance jobs use one, with the same scopes.
        const alternatives = new Set(version.operations.flatMap((op) => securityAlternatives(contract, byId.get(op.id)!)!.map((a) => a.join(' '))));
        assert.equal(alternatives.size, new Set(ROUTES_BEFORE[api.slug]!.map((r) => r[3])).size, `${api.slug}: every alternative asks the same scopes`);
        assert.deepEqual(version.policies.map((p) => p.policy).sort(), [...(api.slug.startsWith('erp-') ? ['api-key'] : []), ...(api.slug === 'erp-sales' ? ['order-status'] : []), 'contract-validation', 'jwt-auth', 'ownership', 'rate-limit', 'rbac', 'subscription'].sort());
      }
      assert.deepEqual(
        snapshot.consumers.map((c) => `${c.id}: ${c.subscriptions.map((s) => `${s.api}/${s.plan}`).join(' ')}`),
        ['crm-sync: crm/crm-sync erp-sales/crm-sync', 'finance-jobs: erp-rpc/finance erp-sales/finance', 'service-desk: crm/service-desk erp-sales/service-desk service-desk/service-desk', 'storefront: erp-sales/storefront'],
      );
      const gateway = await startTestGateway({ snapshot, secrets: { ODOO_API_KEY: 'k', SALESFORCE_CLIENT_SECRET: 's', ZENDESK_API_TOKEN: 't' } });
      t.after(() => gateway.close());
      assert.equal(gateway.gateway.currentHash(), snapshot.hash);

      // A store started again with other ports: the drift is named, nothing is rewritten.
      assert.deepEqual(await demoCatalogueDrift(store, ENDPOINTS), []);
      const moved = await demoCatalogueDrift(store, { ...ENDPOINTS, odooUrl: 'http://127.0.0.1:9069', issuer: 'http://127.0.0.1:5000/oidc' });
      assert.equal(moved.filter((line) => line.includes('9069')).length, 2);
      assert.equal(moved.filter((line) => line.includes('5000/oidc')).length, 4);
    });
  }

  it('writes nothing into a store that holds any catalogue', async (t) => {
    const store = await openTestStore(t, 'sqlite');
    if (store === undefined) return;
    t.after(() => store.dispose());
    await store.db.insertInto('teams').values({ id: 'ops', name: 'Ops', created_at: new Date().toISOString() }).execute();
    assert.deepEqual(await seedDemoCatalogue(store, { endpoints: ENDPOINTS }), { seeded: false });
    assert.equal((await store.db.selectFrom('audit_events').selectAll().execute()).length, 0);
    assert.equal((await store.db.selectFrom('apis').selectAll().execute()).length, 0);
  });
});
