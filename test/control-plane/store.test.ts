/**
 * @module The control-plane store on SQLite and PostgreSQL: migrations, the audit chain's
 * appends (concurrent ones serialised), verification, and tampering found at the right link.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { appendAudit, verifyAuditChain } from '../../control-plane/audit/chain.js';
import { ENGINES, openTestStore } from '../support/stores.js';

for (const engine of ENGINES) {
  describe(`store on ${engine}`, () => {
    it('migrates to the latest schema, and again without change', async (t) => {
      const store = await openTestStore(t, engine);
      if (store === undefined) return;
      t.after(() => store.dispose());
      const head = await store.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
      assert.deepEqual({ seq: Number(head.seq), hash: head.hash }, { seq: 0, hash: '0'.repeat(64) });
      await store.db.insertInto('teams').values({ id: 'erp-team', name: 'ERP', created_at: new Date().toISOString() }).execute();
      const teams = await store.db.selectFrom('teams').selectAll().execute();
      assert.equal(teams.length, 1);
    });

    it('chains audit events, serialises concurrent appends, and names the first tampered link', async (t) => {
      const store = await openTestStore(t, engine);
      if (store === undefined) return;
      t.after(() => store.dispose());
      const append = (i: number) =>
        store.db.transaction().execute((trx) =>
          appendAudit(trx, store.dialect, Date.UTC(2026, 10, 27, 0, 0, i), {
            actor: `user-${i % 3}`,
            role: 'admin',
            action: 'team.create',
            target: `teams/t${i}`,
            after: { id: `t${i}`, name: `Team ${i}` },
            requestId: `req-${i}`,
          }),
        );
      await Promise.all(Array.from({ length: 12 }, (_, i) => append(i)));
      const intact = await verifyAuditChain(store.db, 5);
      assert.deepEqual(intact.intact, true);
      assert.equal(intact.events, 12);
      const seqs = (await store.db.selectFrom('audit_events').select('seq').orderBy('seq').execute()).map((r) => Number(r.seq));
      assert.deepEqual(seqs, Array.from({ length: 12 }, (_, i) => i + 1));

      // Someone with database access edits event 7's payload.
      await sql`update audit_events set after = ${'{"id":"t6","name":"Changed"}'} where seq = 7`.execute(store.db);
      const tampered = await verifyAuditChain(store.db, 5);
      assert.equal(tampered.intact, false);
      assert.deepEqual(!tampered.intact && { seq: tampered.brokenAt.seq, reason: tampered.brokenAt.reason }, { seq: 7, reason: 'content does not match its hash' });
    });

    it('finds a deleted event in the middle and a truncated tail', async (t) => {
      const store = await openTestStore(t, engine);
      if (store === undefined) return;
      t.after(() => store.dispose());
      for (let i = 0; i < 5; i++) {
        await store.db.transaction().execute((trx) => appendAudit(trx, store.dialect, Date.now(), { actor: 'a', role: 'admin', action: 'x', target: `t/${i}` }));
      }
      await sql`delete from audit_events where seq = 5`.execute(store.db);
      const truncated = await verifyAuditChain(store.db);
      assert.equal(truncated.intact, false);
      assert.match(!truncated.intact ? truncated.brokenAt.reason : '', /removed/);
      await sql`delete from audit_events where seq = 2`.execute(store.db);
      const gap = await verifyAuditChain(store.db);
      assert.deepEqual(!gap.intact && gap.brokenAt.seq, 2);
    });
  });
}
