/**
 * @module The system-of-record registry over the admin API, on SQLite and PostgreSQL: seeded
 * with the retail defaults, read by any role, changed only by admins (whole, by entity, by
 * grant) with If-Match, checked whole (owners are systems, one entity per upstream model,
 * grants on known entities and consumers, consumers' speaksFor kept valid), audited, and
 * compiled into the snapshot with each consumer's speaksFor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSnapshot, createSnapshotChecker, loadSnapshotState } from '../../control-plane/snapshot/builder.js';
import { ADMIN_ROUTES } from '../../control-plane/routes/index.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';

const pointers = (reply: { json: any }): string[] => (reply.json.errors as { pointer: string }[]).map((e) => e.pointer).sort();

for (const engine of ENGINES) {
  describe(`ownership registry on ${engine}`, () => {
    it('is seeded with the retail defaults, changed by admins only, checked whole, audited and compiled into the snapshot', async (t) => {
      const cp = await startTestControlPlane(t, engine, { routes: ADMIN_ROUTES });
      if (cp === undefined) return;
      t.after(() => cp.close());
      const reasons: string[] = [];
      cp.cp.deps.events.on('enforcement-changed', (reason) => reasons.push(reason));

      const seeded = await cp.call('olivia.owner', 'GET', '/api/v1/ownership');
      assert.equal(seeded.status, 200);
      assert.deepEqual(seeded.json.systems.map((s: { id: string }) => s.id), ['erp', 'crm', 'service-desk']);
      const owners = Object.fromEntries(seeded.json.entities.map((e: { name: string; owner: string }) => [e.name, e.owner]));
      assert.deepEqual(owners, { product: 'erp', price: 'erp', inventory: 'erp', order: 'erp', delivery: 'erp', invoice: 'erp', payment: 'erp', customer: 'crm', opportunity: 'crm', case: 'service-desk' });
      assert.equal(seeded.json.entities.find((e: { name: string }) => e.name === 'customer').fieldOwners.vat, 'erp', 'billing identity stays with the ERP');
      const etag = seeded.headers.get('etag')!;

      // Only admins write.
      for (const who of ['olivia.owner', 'rafael.reviewer', 'ada.auditor']) {
        assert.equal((await cp.call(who, 'POST', '/api/v1/ownership/grants', { consumer: 'x', entity: 'invoice', fields: ['ref'] })).status, 403, who);
      }

      // Consumers name the system they write for; unknown systems are refused.
      assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'service-team', name: 'Service' })).status, 201);
      const desk = await cp.call('adam.admin', 'POST', '/api/v1/consumers', { id: 'service-desk', name: 'Service desk', team: 'service-team', speaksFor: 'service-desk' });
      assert.equal(desk.status, 201, desk.text);
      assert.equal(desk.json.speaksFor, 'service-desk');
      const unknown = await cp.call('adam.admin', 'POST', '/api/v1/consumers', { id: 'odd', name: 'Odd', team: 'service-team', speaksFor: 'warehouse' });
      assert.deepEqual([unknown.status, pointers(unknown)], [400, ['/body/speaksFor']]);

      // A grant: the service desk may write one field of invoices.
      const grant = await cp.call('adam.admin', 'POST', '/api/v1/ownership/grants', { consumer: 'service-desk', entity: 'invoice', fields: ['x_service_note'] });
      assert.equal(grant.status, 201, grant.text);
      assert.match(grant.json.id, /^grant_/);
      const badGrant = await cp.call('adam.admin', 'POST', '/api/v1/ownership/grants', { consumer: 'nobody', entity: 'unicorn', fields: ['a'] });
      assert.deepEqual([badGrant.status, pointers(badGrant)], [400, ['/body/grants/1/consumer', '/body/grants/1/entity']]);

      // Entities: replaced one by one; a model maps to one entity only; owners must be systems.
      const loyalty = { name: 'loyalty', owner: 'crm', fieldOwners: { points: 'erp' }, mappings: [{ upstream: 'salesforce', model: 'Loyalty__c', fields: { Points__c: 'points' } }] };
      assert.equal((await cp.call('adam.admin', 'PUT', '/api/v1/ownership/entities/loyalty', loyalty)).status, 200);
      const clash = await cp.call('adam.admin', 'PUT', '/api/v1/ownership/entities/points', { ...loyalty, name: 'points', owner: 'warehouse' });
      assert.equal(clash.status, 400);
      assert.deepEqual(clash.json.errors.map((e: { detail: string }) => e.detail).sort(), ['is not a system ("warehouse")', 'salesforce Loyalty__c is mapped to "loyalty" already']);
      assert.equal((await cp.call('adam.admin', 'DELETE', '/api/v1/ownership/entities/invoice')).status, 409, 'a grant names it');

      // The whole document: If-Match required and checked; a system a consumer speaks for stays.
      const stale = await cp.call('adam.admin', 'PUT', '/api/v1/ownership', { ...seeded.json }, { 'if-match': etag });
      assert.equal(stale.status, 412);
      const current = await cp.call('ada.auditor', 'GET', '/api/v1/ownership');
      const withoutDesk = { ...current.json, systems: current.json.systems.filter((s: { id: string }) => s.id !== 'service-desk'), entities: current.json.entities.filter((e: { name: string }) => e.name !== 'case') };
      const orphan = await cp.call('adam.admin', 'PUT', '/api/v1/ownership', withoutDesk, { 'if-match': current.headers.get('etag')! });
      assert.equal(orphan.status, 400);
      assert.match(orphan.json.errors[0].detail, /consumer "service-desk" speaks for "service-desk"/);

      assert.equal((await cp.call('adam.admin', 'DELETE', `/api/v1/ownership/grants/${grant.json.id as string}`)).status, 204);
      const audit = await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?target=ownership');
      assert.deepEqual(audit.json.items.map((e: { action: string }) => e.action), ['ownership.revoke_grant', 'ownership.entity.put', 'ownership.grant']);
      assert.deepEqual(reasons.filter((r) => r.startsWith('ownership')), ['ownership ownership.grant', 'ownership ownership.entity.put', 'ownership ownership.revoke_grant']);

      // Compiled into the snapshot, with speaksFor on the consumer.
      await cp.call('adam.admin', 'POST', '/api/v1/ownership/grants', { consumer: 'service-desk', entity: 'invoice', fields: ['x_service_note'] });
      const snapshot = buildSnapshot(await loadSnapshotState(cp.store.db), { generatedAt: new Date().toISOString() });
      createSnapshotChecker()(snapshot);
      assert.equal(snapshot.consumers.find((c) => c.id === 'service-desk')!.speaksFor, 'service-desk');
      assert.deepEqual(snapshot.ownership!.grants, [{ consumer: 'service-desk', entity: 'invoice', fields: ['x_service_note'] }]);
      assert.ok(snapshot.ownership!.entities.some((e) => e.name === 'loyalty'));
    });
  });
}
