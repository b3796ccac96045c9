/**
 * @module Breaking changes at the control plane, on SQLite and PostgreSQL: a version that breaks
 * the published one of its major is refused at submit (422 version.breaking_change listing the
 * breaks), a compatible one goes through, a new major may break and its diff says what, and
 * `GET …/diff` reports against the default or a named version.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { apisRoutes } from '../../control-plane/routes/apis.js';
import { teamsRoutes } from '../../control-plane/routes/teams.js';
import { versionsRoutes } from '../../control-plane/routes/versions.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';

const orders = JSON.parse(readFileSync(new URL('../policies/contracts/orders-3.0.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const API = '/api/v1/apis/erp-orders';

/** The contract without one operation: a removal, breaking. */
function withoutOrderUpdate(): object {
  const copy = structuredClone(orders);
  delete copy.paths['/orders/{orderId}']!.patch;
  return copy;
}

/** The contract plus an operation: compatible. */
function withStockRead(): object {
  const copy = structuredClone(orders);
  copy.paths['/stock'] = { get: { operationId: 'listStock', responses: { '200': { description: 'Stock.' } } } };
  return copy;
}

async function version(cp: TestControlPlane, v: string, contract: object): Promise<void> {
  const created = await cp.call('olivia.owner', 'POST', `${API}/versions`, { version: v, contract, policies: [] });
  assert.equal(created.status, 201, created.text);
}

async function act(cp: TestControlPlane, who: string, v: string, action: string, body: unknown = {}) {
  const etag = (await cp.call('ada.auditor', 'GET', `${API}/versions/${v}`)).headers.get('etag')!;
  return cp.call(who, 'POST', `${API}/versions/${v}/${action}`, body, { 'if-match': etag });
}

for (const engine of ENGINES) {
  describe(`breaking changes on ${engine}`, () => {
    it('refuses a breaking change inside a major at submit, lets a compatible one and a new major through, and reports diffs', async (t) => {
      const cp = await startTestControlPlane(t, engine, { routes: [teamsRoutes, apisRoutes, versionsRoutes] });
      if (cp === undefined) return;
      t.after(() => cp.close());
      assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp-team', name: 'ERP' })).status, 201);
      const upstream = { kind: 'http', baseUrl: 'http://127.0.0.1:9/orders', settings: {}, connectTimeoutMs: 1000, responseTimeoutMs: 2000 };
      assert.equal((await cp.call('olivia.owner', 'POST', '/api/v1/apis', { slug: 'erp-orders', title: 'Orders', team: 'erp-team', upstream })).status, 201);

      await version(cp, '1.0.0', orders);
      const noBase = await cp.call('ada.auditor', 'GET', `${API}/versions/1.0.0/diff`);
      assert.equal(noBase.json.code, 'resource.not_found');
      assert.equal((await act(cp, 'olivia.owner', '1.0.0', 'submit')).status, 200);
      assert.equal((await act(cp, 'rafael.reviewer', '1.0.0', 'approve')).status, 200);
      assert.equal((await act(cp, 'olivia.owner', '1.0.0', 'publish')).status, 200);

      await version(cp, '1.1.0', withoutOrderUpdate());
      const refused = await act(cp, 'olivia.owner', '1.1.0', 'submit');
      assert.equal(refused.status, 422, refused.text);
      assert.equal(refused.json.code, 'version.breaking_change');
      assert.equal(refused.json.against, '1.0.0');
      assert.deepEqual(refused.json.changes.map((c: { rule: string; breaking: boolean }) => [c.rule, c.breaking]), [['operation-removed', true]]);
      assert.equal((await cp.call('ada.auditor', 'GET', `${API}/versions/1.1.0`)).json.status, 'draft', 'still a draft');

      const diff = await cp.call('rafael.reviewer', 'GET', `${API}/versions/1.1.0/diff`);
      assert.equal(diff.status, 200);
      assert.deepEqual([diff.json.against, diff.json.sameMajor, diff.json.breaking], ['1.0.0', true, true]);
      assert.equal(diff.json.changes[0].operationId, 'updateOrder');

      await version(cp, '1.2.0', withStockRead());
      assert.equal((await act(cp, 'olivia.owner', '1.2.0', 'submit')).status, 200, 'an added operation is compatible');
      const compatible = await cp.call('ada.auditor', 'GET', `${API}/versions/1.2.0/diff?against=1.0.0`);
      assert.deepEqual([compatible.json.breaking, compatible.json.changes.map((c: { rule: string }) => c.rule)], [false, ['operation-added']]);

      await version(cp, '2.0.0', withoutOrderUpdate());
      assert.equal((await act(cp, 'olivia.owner', '2.0.0', 'submit')).status, 200, 'a new major may break');
      const major = await cp.call('ada.auditor', 'GET', `${API}/versions/2.0.0/diff`);
      assert.deepEqual([major.json.against, major.json.sameMajor, major.json.breaking], ['1.0.0', false, true]);

      assert.equal((await cp.call('ada.auditor', 'GET', `${API}/versions/2.0.0/diff?against=9.9.9`)).status, 404);
    });
  });
}
