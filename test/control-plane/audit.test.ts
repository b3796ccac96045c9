/**
 * @module Admin audit through the admin API on SQLite and PostgreSQL: events listed newest
 * first with filters and cursor paging, for auditors and admins only; `/audit/verify` reports
 * an intact chain and, after one row is altered in the database, names that row.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { auditRoutes } from '../../control-plane/routes/audit.js';
import { teamsRoutes } from '../../control-plane/routes/teams.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';

for (const engine of ENGINES) {
  describe(`admin audit on ${engine}`, () => {
    it('lists, filters and pages events for auditors, and verify points at a tampered row', async (t) => {
      const cp = await startTestControlPlane(t, engine, { routes: [teamsRoutes, auditRoutes] });
      if (cp === undefined) return;
      t.after(() => cp.close());
      for (const id of ['crm', 'erp', 'finance']) assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/teams', { id, name: id })).status, 201);
      assert.equal((await cp.call('service:gatehouse-automation', 'POST', '/api/v1/teams', { id: 'ops', name: 'Ops' })).status, 201);

      const refused = await cp.call('olivia.owner', 'GET', '/api/v1/audit/events');
      assert.equal(refused.status, 403);
      assert.equal(refused.json.code, 'access.role_missing');

      const all = await cp.call('ada.auditor', 'GET', '/api/v1/audit/events');
      assert.equal(all.status, 200);
      assert.deepEqual(all.json.items.map((e: { target: string }) => e.target), ['teams/ops', 'teams/finance', 'teams/erp', 'teams/crm']);
      const first = all.json.items[3];
      assert.equal(first.action, 'team.create');
      assert.deepEqual(first.after, { id: 'crm', name: 'crm', createdAt: first.after.createdAt });
      assert.equal(first.prevHash, '0'.repeat(64));

      const byActor = await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?actor=gatehouse-automation');
      assert.deepEqual(byActor.json.items.map((e: { target: string }) => e.target), ['teams/ops']);
      const byTarget = await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?target=teams/erp');
      assert.deepEqual(byTarget.json.items.map((e: { target: string }) => e.target), ['teams/erp']);
      const future = await cp.call('ada.auditor', 'GET', `/api/v1/audit/events?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
      assert.deepEqual(future.json.items, []);
      const page1 = await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?limit=3&action=team.create');
      const page2 = await cp.call('ada.auditor', 'GET', `/api/v1/audit/events?limit=3&action=team.create&cursor=${page1.json.nextCursor}`);
      assert.deepEqual([...page1.json.items, ...page2.json.items].map((e: { seq: number }) => e.seq), [4, 3, 2, 1]);
      assert.equal(page2.json.nextCursor, undefined);
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?from=yesterday')).json.code, 'request.validation_failed');

      const intact = await cp.call('ada.auditor', 'GET', '/api/v1/audit/verify');
      assert.deepEqual({ intact: intact.json.intact, events: intact.json.events }, { intact: true, events: 4 });

      await sql`update audit_events set actor = ${'someone-else'} where seq = 2`.execute(cp.store.db);
      const broken = await cp.call('adam.admin', 'GET', '/api/v1/audit/verify');
      assert.equal(broken.json.intact, false);
      assert.equal(broken.json.brokenAt.seq, 2);
      assert.equal(broken.json.brokenAt.id, all.json.items[2].id);
    });
  });
}
