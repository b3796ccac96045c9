/**
 * @module The admin API's shared behaviour, shown on teams, on SQLite and PostgreSQL:
 * authentication (401 with a challenge), roles per endpoint (403 access.role_missing), body
 * validation problems, conflicts, cursor paging, and an audit event per change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyAuditChain } from '../../control-plane/audit/chain.js';
import { teamsRoutes } from '../../control-plane/routes/teams.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';

for (const engine of ENGINES) {
  describe(`admin API basics (teams) on ${engine}`, () => {
    it('authenticates, authorises per role, validates, audits and pages', async (t) => {
      const cp = await startTestControlPlane(t, engine, { routes: [teamsRoutes] });
      if (cp === undefined) return;
      t.after(() => cp.close());

      const anonymous = await cp.call('anonymous', 'GET', '/api/v1/teams');
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.json.code, 'auth.token_missing');
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse-admin"/);
      const forged = await fetch(`${cp.url}/api/v1/teams`, { headers: { authorization: 'Bearer not.a.token' } });
      assert.equal(forged.status, 401);
      assert.equal(((await forged.json()) as { code: string }).code, 'auth.token_invalid');

      const byOwner = await cp.call('olivia.owner', 'POST', '/api/v1/teams', { id: 'erp', name: 'ERP' });
      assert.equal(byOwner.status, 403);
      assert.equal(byOwner.json.code, 'access.role_missing');

      const invalid = await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'Not A Slug', extra: 1 });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.json.code, 'request.validation_failed');
      assert.deepEqual(invalid.json.errors.map((e: { pointer: string }) => e.pointer).sort(), ['/body/extra', '/body/id', '/body/name'].sort());

      const malformed = await cp.call('adam.admin', 'POST', '/api/v1/teams', '{"id":');
      assert.equal(malformed.status, 400);
      assert.equal(malformed.json.code, 'request.malformed_body');

      for (const id of ['crm', 'erp', 'finance', 'web']) {
        const created = await cp.call('adam.admin', 'POST', '/api/v1/teams', { id, name: id.toUpperCase() });
        assert.equal(created.status, 201, created.text);
        assert.equal(created.headers.get('location'), `/api/v1/teams/${id}`);
      }
      const automation = await cp.call('service:gatehouse-automation', 'POST', '/api/v1/teams', { id: 'ops', name: 'Ops' });
      assert.equal(automation.status, 201, 'a service client configured as admin may act');
      const duplicate = await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp', name: 'Again' });
      assert.equal(duplicate.status, 409);
      assert.equal(duplicate.json.code, 'resource.conflict');

      const first = await cp.call('ada.auditor', 'GET', '/api/v1/teams?limit=2');
      assert.deepEqual(first.json.items.map((x: { id: string }) => x.id), ['crm', 'erp']);
      const second = await cp.call('ada.auditor', 'GET', `/api/v1/teams?limit=2&cursor=${first.json.nextCursor}`);
      assert.deepEqual(second.json.items.map((x: { id: string }) => x.id), ['finance', 'ops']);
      const last = await cp.call('ada.auditor', 'GET', `/api/v1/teams?limit=2&cursor=${second.json.nextCursor}`);
      assert.deepEqual([last.json.items.map((x: { id: string }) => x.id), last.json.nextCursor], [['web'], undefined]);
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/teams?limit=0')).status, 400);
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/teams/nope')).json.code, 'resource.not_found');
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/nowhere')).status, 404);

      const events = await cp.store.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
      assert.deepEqual(events.map((e) => e.action), Array(5).fill('team.create'));
      assert.deepEqual(events.map((e) => e.role), ['admin', 'admin', 'admin', 'admin', 'admin']);
      assert.equal(events[4]!.actor, 'gatehouse-automation');
      assert.ok(events.every((e) => e.request_id !== null));
      assert.equal((await verifyAuditChain(cp.store.db)).intact, true);
    });
  });
}
