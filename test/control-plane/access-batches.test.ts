/**
 * @module Access records shipped by gateway nodes, on SQLite and PostgreSQL: stored once per
 * node and batch id (a re-sent batch is acknowledged as a duplicate), refused whole when
 * invalid, only from gateway nodes, and chained by hash so that changing or removing a stored
 * record is found by `verifyAccessChain`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { verifyAccessChain } from '../../control-plane/access/store.js';
import { ADMIN_ROUTES } from '../../control-plane/routes/index.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';
import { accessRecord } from '../support/access-records.js';

const GATEWAY = 'service:gatehouse-gateway';
const PATH = '/api/v1/audit/access-batches';

for (const engine of ENGINES) {
  describe(`access batches on ${engine}`, () => {
    it('stores each batch once, refuses bad ones whole, and chains them so tampering shows', async (t) => {
      const cp = await startTestControlPlane(t, engine, { routes: ADMIN_ROUTES });
      if (cp === undefined) return;
      t.after(() => cp.close());
      const first = { nodeId: 'gw-1', batchId: '0001', records: [accessRecord({ consumer: 'a', latencyMs: 12.345, upstreamLatencyMs: null, upstreamStatus: null }), accessRecord({ consumer: 'b', status: 403, decision: 'access.not_subscribed' })] };
      const stored = await cp.call(GATEWAY, 'POST', PATH, first);
      assert.equal(stored.status, 200, stored.text);
      assert.deepEqual([stored.json.accepted, stored.json.duplicate, stored.json.seq], [2, false, 1]);
      const again = await cp.call(GATEWAY, 'POST', PATH, first);
      assert.deepEqual([again.json.accepted, again.json.duplicate, again.json.seq, again.json.hash], [0, true, 1, stored.json.hash]);
      const second = await cp.call(GATEWAY, 'POST', PATH, { nodeId: 'gw-2', batchId: '0001', records: [accessRecord({ consumer: 'c' })] });
      assert.deepEqual([second.json.duplicate, second.json.seq], [false, 2], 'batch ids are per node');
      const metrics = await (await fetch(`${cp.url}/metrics`)).text();
      assert.match(metrics, /gatehouse_access_records_ingested_total 3\n/);
      assert.match(metrics, /gatehouse_access_batches_received_total\{outcome="duplicate"\} 1\n/);
      const rows = await cp.store.db.selectFrom('access_records').select(['consumer', 'latency_us']).orderBy('batch_seq').orderBy('idx').execute();
      assert.deepEqual(rows.map((r) => [r.consumer, Number(r.latency_us)]), [['a', 12_345], ['b', 1250], ['c', 1250]]);

      const bad = await cp.call(GATEWAY, 'POST', PATH, { nodeId: 'gw-1', batchId: '0002', records: [accessRecord({}), { ...accessRecord({}), status: 'ok' }] });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.code, 'request.validation_failed');
      assert.deepEqual(bad.json.errors.map((e: { pointer: string }) => e.pointer), ['/body/records/1/status']);
      assert.equal((await cp.store.db.selectFrom('access_records').select('idx').execute()).length, 3, 'nothing of a refused batch is kept');
      for (const who of ['olivia.owner', 'ada.auditor']) assert.equal((await cp.call(who, 'POST', PATH, first)).status, 403, who);

      assert.deepEqual(await verifyAccessChain(cp.store.db), { intact: true, batches: 2, records: 3, head: second.json.hash });
      await sql`update access_records set status = 200 where consumer = 'b'`.execute(cp.store.db);
      const verdict = await verifyAccessChain(cp.store.db);
      assert.equal(verdict.intact, false);
      assert.deepEqual(verdict.intact ? null : verdict.brokenAt, { seq: 1, nodeId: 'gw-1', batchId: '0001', reason: 'the batch or its records do not match its hash' });
    });
  });
}
