/**
 * @module Plans over the admin API on SQLite and PostgreSQL: admins write, everyone
 * authenticated reads; validation problems with pointers; If-Match on PATCH (428 missing, 412
 * stale); a stored plan is one the snapshot schema accepts; enforcement-changed after each change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { snapshotSchema } from '../../contracts/index.js';
import { verifyAuditChain } from '../../control-plane/audit/chain.js';
import { plansRoutes } from '../../control-plane/routes/plans.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const standard = {
  id: 'standard',
  name: 'Standard',
  scopes: ['orders:read', 'orders:write'],
  limits: { rates: [{ requests: 100, windowSeconds: 60 }], quotas: [{ requests: 10_000, period: 'day' }], onStoreFailure: 'failOpen' },
};

const pointersOf = (json: { errors?: { pointer: string }[] }): string[] => (json.errors ?? []).map((e) => e.pointer).sort();

for (const engine of ENGINES) {
  describe(`plans on ${engine}`, () => {
    it('admin creates and changes plans, everyone authenticated reads them, nobody else writes', async (t) => {
      const cp = await startTestControlPlane(t, engine, { routes: [plansRoutes] });
      if (cp === undefined) return;
      t.after(() => cp.close());
      const reasons: string[] = [];
      cp.cp.deps.events.on('enforcement-changed', (reason) => reasons.push(reason));

      assert.equal((await cp.call('anonymous', 'GET', '/api/v1/plans')).status, 401);
      for (const who of ['olivia.owner', 'rafael.reviewer', 'ada.auditor']) {
        const refused = await cp.call(who, 'POST', '/api/v1/plans', standard);
        assert.equal(refused.status, 403, who);
        assert.equal(refused.json.code, 'access.role_missing');
      }
      assert.deepEqual(reasons, []);

      const created = await cp.call('adam.admin', 'POST', '/api/v1/plans', standard);
      assert.equal(created.status, 201, created.text);
      assert.equal(created.headers.get('location'), '/api/v1/plans/standard');
      const etag = created.headers.get('etag')!;
      assert.match(etag, /^"plan-.+-1"$/);
      assert.deepEqual({ ...created.json, createdAt: undefined, updatedAt: undefined }, { ...standard, createdAt: undefined, updatedAt: undefined });
      assert.equal(reasons.length, 1, 'a new plan changes the snapshot');

      const free = await cp.call('service:gatehouse-automation', 'POST', '/api/v1/plans', { id: 'free', name: 'Free', scopes: [] });
      assert.equal(free.status, 201, free.text);
      assert.equal(free.json.limits, null, 'no limits: unlimited');
      assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/plans', standard)).json.code, 'resource.conflict');

      for (const who of ['olivia.owner', 'rafael.reviewer', 'ada.auditor']) {
        const one = await cp.call(who, 'GET', '/api/v1/plans/standard');
        assert.equal(one.status, 200, who);
        assert.equal(one.headers.get('etag'), etag);
      }
      const page = await cp.call('ada.auditor', 'GET', '/api/v1/plans?limit=1');
      assert.deepEqual(page.json.items.map((p: { id: string }) => p.id), ['free']);
      const next = await cp.call('ada.auditor', 'GET', `/api/v1/plans?limit=1&cursor=${page.json.nextCursor}`);
      assert.deepEqual([next.json.items.map((p: { id: string }) => p.id), next.json.nextCursor], [['standard'], undefined]);
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/plans/nope')).json.code, 'resource.not_found');

      // PATCH: If-Match required, stale refused, then applied.
      const change = { limits: { ...standard.limits, rates: [{ requests: 50, windowSeconds: 1 }], onStoreFailure: 'failClosed' } };
      assert.equal((await cp.call('olivia.owner', 'PATCH', '/api/v1/plans/standard', change, { 'if-match': etag })).status, 403);
      const missing = await cp.call('adam.admin', 'PATCH', '/api/v1/plans/standard', change);
      assert.equal(missing.status, 428);
      assert.equal(missing.json.code, 'request.precondition_required');
      const stale = await cp.call('adam.admin', 'PATCH', '/api/v1/plans/standard', change, { 'if-match': '"plan-c3RhbmRhcmQ-0"' });
      assert.equal(stale.status, 412);
      assert.equal(stale.json.code, 'request.precondition_failed');
      assert.equal(stale.json.currentEtag, etag);
      const patched = await cp.call('adam.admin', 'PATCH', '/api/v1/plans/standard', change, { 'if-match': etag });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(patched.json.limits, change.limits);
      assert.deepEqual(patched.json.scopes, standard.scopes, 'fields not sent stay');
      const etag2 = patched.headers.get('etag')!;
      assert.notEqual(etag2, etag);
      assert.equal((await cp.call('adam.admin', 'PATCH', '/api/v1/plans/standard', { name: 'Again' }, { 'if-match': etag })).status, 412, 'the old ETag is stale now');
      const unlimited = await cp.call('adam.admin', 'PATCH', '/api/v1/plans/standard', { limits: null, name: 'Standard, unlimited' }, { 'if-match': etag2 });
      assert.equal(unlimited.status, 200, unlimited.text);
      assert.equal(unlimited.json.limits, null);
      assert.equal((await cp.call('adam.admin', 'PATCH', '/api/v1/plans/nope', { name: 'x' }, { 'if-match': '*' })).status, 404);
      assert.equal(reasons.length, 4, `create, create, patch, patch: ${reasons.join(' | ')}`);

      // What the admin API stores, the snapshot schema accepts.
      const ajv = new Ajv({ allErrors: true, strict: false });
      addFormats(ajv);
      const validSnapshot = ajv.compile(snapshotSchema);
      const plans = (await cp.call('ada.auditor', 'GET', '/api/v1/plans')).json.items.map(({ id, name, scopes, limits }: { id: string; name: string; scopes: string[]; limits: unknown }) => ({ id, name, scopes, ...(limits === null ? {} : { limits }) }));
      const snapshot = { formatVersion: 1, hash: '0'.repeat(64), generatedAt: new Date().toISOString(), gateway: { policies: [] }, apis: [], plans: [...plans, { ...standard, id: 'again' }], consumers: [] };
      assert.equal(validSnapshot(snapshot), true, JSON.stringify(validSnapshot.errors));

      const events = await cp.store.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
      assert.deepEqual(events.map((e) => [e.action, e.target, e.actor]), [
        ['plan.create', 'plans/standard', 'adam.admin'],
        ['plan.create', 'plans/free', 'gatehouse-automation'],
        ['plan.update', 'plans/standard', 'adam.admin'],
        ['plan.update', 'plans/standard', 'adam.admin'],
      ]);
      assert.deepEqual(JSON.parse(events[2]!.before!).limits, standard.limits);
      assert.deepEqual(JSON.parse(events[2]!.after!).limits, change.limits);
      assert.equal((await verifyAuditChain(cp.store.db)).intact, true);
    });

    it('answers invalid plans with a pointer per problem', async (t) => {
      const cp = await startTestControlPlane(t, engine, { routes: [plansRoutes] });
      if (cp === undefined) return;
      t.after(() => cp.close());

      const invalid = await cp.call('adam.admin', 'POST', '/api/v1/plans', {
        id: 'Not A Slug',
        scopes: ['orders:read', 'orders:read', 'has space'],
        limits: { rates: [{ requests: 0, windowSeconds: 60 }], quotas: [{ requests: 10, period: 'week' }], onStoreFailure: 'maybe' },
        tier: 'gold',
      });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.json.code, 'request.validation_failed');
      assert.deepEqual(pointersOf(invalid.json), [
        '/body/id',
        '/body/limits/onStoreFailure',
        '/body/limits/quotas/0/period',
        '/body/limits/rates/0/requests',
        '/body/name',
        '/body/scopes',
        '/body/scopes/2',
        '/body/tier',
      ]);
      const noOnStoreFailure = await cp.call('adam.admin', 'POST', '/api/v1/plans', { ...standard, limits: { rates: [], quotas: [] } });
      assert.deepEqual(pointersOf(noOnStoreFailure.json), ['/body/limits/onStoreFailure']);

      assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/plans', standard)).status, 201);
      const etag = (await cp.call('adam.admin', 'GET', '/api/v1/plans/standard')).headers.get('etag')!;
      const emptyPatch = await cp.call('adam.admin', 'PATCH', '/api/v1/plans/standard', {}, { 'if-match': etag });
      assert.equal(emptyPatch.status, 400, 'an empty PATCH changes nothing and says so');
      const renameId = await cp.call('adam.admin', 'PATCH', '/api/v1/plans/standard', { id: 'gold' }, { 'if-match': etag });
      assert.deepEqual(pointersOf(renameId.json), ['/body/id'], 'the id never changes');
      const windowTooLong = await cp.call('adam.admin', 'PATCH', '/api/v1/plans/standard', { limits: { ...standard.limits, rates: [{ requests: 1, windowSeconds: 86_401 }] } }, { 'if-match': etag });
      assert.deepEqual(pointersOf(windowTooLong.json), ['/body/limits/rates/0/windowSeconds']);
      assert.equal((await cp.store.db.selectFrom('audit_events').select('seq').execute()).length, 1, 'refusals record nothing');
    });
  });
}
