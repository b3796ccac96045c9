/**
 * @module Security reviewers' view of the gateways' access records, on SQLite and PostgreSQL:
 * filters and cursor paging return exactly the expected records, CSV and NDJSON exports are
 * valid and complete, `/audit/verify` names an edited or deleted record's batch, retention
 * purges whole old batches (audited) and the kept chain still verifies, and planted secrets
 * (sensitive query values the gateway redacted) appear nowhere.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { sql } from 'kysely';
import { ADMIN_ROUTES } from '../../control-plane/routes/index.js';
import { accessRecord } from '../support/access-records.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';

const GATEWAY = 'service:gatehouse-gateway';
const HOUR = 3_600_000;

for (const engine of ENGINES) {
  describe(`access records for auditors on ${engine}`, () => {
    it('filters, pages, exports, verifies and purges exactly', async (t) => {
      let offset = 0;
      const cp = await startTestControlPlane(t, engine, { routes: ADMIN_ROUTES, clock: { now: () => Date.now() + offset } });
      if (cp === undefined) return;
      t.after(() => cp.close());
      const base = Date.parse('2026-11-20T10:00:00.000Z');
      // 60 records over 60 hours from two nodes: consumers alternate, every 5th refused, one trace.
      const records = Array.from({ length: 60 }, (_, i) =>
        accessRecord({
          time: new Date(base + i * HOUR).toISOString(),
          requestId: `req-${String(i).padStart(3, '0')}`,
          traceId: i === 42 ? '4bf92f3577b34da6a3ce929d0e0e4736' : '0af7651916cd43dd8448eb211c80319c',
          consumer: i % 2 === 0 ? 'storefront' : 'crm-sync',
          subject: i % 2 === 0 ? 'storefront' : 'user-17',
          status: i % 5 === 0 ? 403 : 200,
          decision: i % 5 === 0 ? 'access.not_subscribed' : 'allow',
          operation: i % 3 === 0 ? 'getInvoice' : 'listOrders',
          path: i === 7 ? '/orders?access_token=[redacted]&limit=5' : '/orders',
        }),
      );
      for (const [n, slice] of [[1, records.slice(0, 30)], [2, records.slice(30)]] as const) {
        const shipped = await cp.call(GATEWAY, 'POST', '/api/v1/audit/access-batches', { nodeId: `gw-${n}`, batchId: `b${n}`, records: slice });
        assert.equal(shipped.status, 200, shipped.text);
      }

      const ids = (items: { requestId: string }[]): string[] => items.map((r) => r.requestId);
      const expected = (keep: (i: number) => boolean): string[] => records.map((r, i) => [r.requestId, i] as const).filter(([, i]) => keep(i)).map(([id]) => id).reverse();

      // One consumer over a day.
      const day = await cp.call('ada.auditor', 'GET', `/api/v1/audit/events?kind=access&consumer=storefront&from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z&limit=200`);
      assert.equal(day.status, 200, day.text);
      assert.deepEqual(ids(day.json.items), expected((i) => i % 2 === 0 && base + i * HOUR >= Date.parse('2026-11-21T00:00:00Z') && base + i * HOUR < Date.parse('2026-11-22T00:00:00Z')));
      // A decision code, paged three at a time: every page follows on, none repeats.
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await cp.call('ada.auditor', 'GET', `/api/v1/audit/events?kind=access&decision=access.not_subscribed&limit=3${cursor === undefined ? '' : `&cursor=${cursor}`}`);
        seen.push(...ids(page.json.items));
        cursor = page.json.nextCursor as string | undefined;
      } while (cursor !== undefined);
      assert.deepEqual(seen, expected((i) => i % 5 === 0));
      // A trace, a status class with an operation, a subject, a node.
      assert.deepEqual(ids((await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?kind=access&traceId=4bf92f3577b34da6a3ce929d0e0e4736')).json.items), ['req-042']);
      // Traces are looked up hour by hour: one spread over 59 hours and both batches pages whole,
      // a time range narrows it, and a range without it finds nothing.
      const shared: string[] = [];
      let traceCursor: string | undefined;
      do {
        const page = await cp.call('ada.auditor', 'GET', `/api/v1/audit/events?kind=access&traceId=0af7651916cd43dd8448eb211c80319c&limit=7${traceCursor === undefined ? '' : `&cursor=${traceCursor}`}`);
        shared.push(...ids(page.json.items));
        traceCursor = page.json.nextCursor as string | undefined;
      } while (traceCursor !== undefined);
      assert.deepEqual(shared, expected((i) => i !== 42));
      const traced = (range: string) => cp.call('ada.auditor', 'GET', `/api/v1/audit/events?kind=access&traceId=4bf92f3577b34da6a3ce929d0e0e4736&${range}`);
      assert.deepEqual(ids((await traced('from=2026-11-22T04:00:00Z&to=2026-11-22T04:00:01Z')).json.items), ['req-042']);
      assert.deepEqual(ids((await traced('from=2026-11-22T04:00:01Z')).json.items), []);
      assert.deepEqual(ids((await traced('to=2026-11-22T04:00:00Z')).json.items), []);
      const traceExport = await cp.call('ada.auditor', 'GET', '/api/v1/audit/export?kind=access&format=ndjson&traceId=0af7651916cd43dd8448eb211c80319c');
      assert.deepEqual(traceExport.text.trimEnd().split('\n').map((line) => (JSON.parse(line) as { requestId: string }).requestId), records.map((r) => r.requestId).filter((id) => id !== 'req-042'));
      assert.deepEqual(ids((await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?kind=access&statusClass=4xx&operation=getInvoice&limit=200')).json.items), expected((i) => i % 5 === 0 && i % 3 === 0));
      assert.deepEqual(ids((await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?kind=access&subject=user-17&node=gw-2&limit=200')).json.items), expected((i) => i % 2 === 1 && i >= 30));
      for (const bad of ['statusClass=6xx', 'actor=x', 'from=yesterday', 'cursor=abc']) {
        assert.equal((await cp.call('ada.auditor', 'GET', `/api/v1/audit/events?kind=access&${bad}`)).json.code, 'request.validation_failed', bad);
      }
      for (const who of ['olivia.owner', 'rafael.reviewer', GATEWAY]) assert.equal((await cp.call(who, 'GET', '/api/v1/audit/events?kind=access')).status, 403, who);

      // Exports: complete, oldest first, valid.
      const ndjson = await cp.call('ada.auditor', 'GET', '/api/v1/audit/export?kind=access&format=ndjson');
      assert.equal(ndjson.headers.get('content-type'), 'application/x-ndjson');
      const lines = ndjson.text.trimEnd().split('\n').map((line) => JSON.parse(line) as { requestId: string; latencyMs: number });
      assert.deepEqual(lines.map((r) => r.requestId), records.map((r) => r.requestId));
      assert.equal(lines[0]!.latencyMs, 1.25);
      const csv = await cp.call('ada.auditor', 'GET', '/api/v1/audit/export?kind=access&format=csv&api=erp-orders');
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      const rows = parseCsv(csv.text, { columns: true }) as Record<string, string>[];
      assert.deepEqual(rows.map((r) => r.requestId), records.map((r) => r.requestId));
      assert.deepEqual(Object.keys(rows[0]!).slice(0, 4), ['time', 'traceId', 'requestId', 'nodeId']);
      assert.equal(rows[7]!.path, '/orders?access_token=[redacted]&limit=5');
      const empty = await cp.call('ada.auditor', 'GET', '/api/v1/audit/export?kind=access&format=csv&consumer=nobody');
      assert.equal(empty.text.split('\n')[0], 'time,traceId,requestId,nodeId,api,version,operation,method,path,status,decision,latencyMs,upstreamLatencyMs,upstreamStatus,consumer,subject,clientAddress,snapshotHash,aborted');
      assert.equal(empty.text.trim().split('\n').length, 1, 'the header alone');
      const admin = await cp.call('ada.auditor', 'GET', '/api/v1/audit/export?kind=admin&format=csv');
      assert.equal(admin.status, 200);

      // Tampering is named; retention purges whole batches and the kept chain still verifies.
      const intact = await cp.call('ada.auditor', 'GET', '/api/v1/audit/verify');
      assert.deepEqual([intact.json.intact, intact.json.access.batches, intact.json.access.records], [true, 2, 60]);
      await sql`update access_records set decision = 'allow' where request_id = 'req-045'`.execute(cp.store.db);
      const edited = await cp.call('ada.auditor', 'GET', '/api/v1/audit/verify');
      assert.equal(edited.json.intact, false);
      assert.deepEqual(edited.json.access.brokenAt, { seq: 2, nodeId: 'gw-2', batchId: 'b2', reason: 'the batch or its records do not match its hash' });
      await sql`update access_records set decision = 'access.not_subscribed' where request_id = 'req-045'`.execute(cp.store.db);
      await sql`delete from access_records where request_id = 'req-031'`.execute(cp.store.db);
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/audit/verify')).json.access.brokenAt.reason, 'records of the batch were removed or added');
      await sql`delete from access_records where batch_seq = 2`.execute(cp.store.db);
      await sql`delete from access_batches where seq = 2`.execute(cp.store.db);
      assert.match((await cp.call('ada.auditor', 'GET', '/api/v1/audit/verify')).json.access.brokenAt.reason, /head is ahead/);
      const third = await cp.call(GATEWAY, 'POST', '/api/v1/audit/access-batches', { nodeId: 'gw-1', batchId: 'b3', records: [accessRecord({ time: new Date().toISOString(), consumer: 'storefront' })] });
      assert.equal(third.status, 200);

      // 91 days after the old records: batch 1 goes (batch 3 is recent), audited; batch 2's hole stays visible.
      offset = Date.parse('2026-11-20T10:00:00.000Z') + 91 * 24 * HOUR - Date.now() + 60 * HOUR;
      const purged = await cp.call('adam.admin', 'POST', '/api/v1/audit/purge');
      assert.equal(purged.status, 200, purged.text);
      assert.deepEqual([purged.json.batches, purged.json.records, purged.json.baseSeq, purged.json.retentionDays], [1, 30, 1, 90]);
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/audit/events?action=audit.purge')).json.items[0].actor, 'adam.admin');
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/audit/verify')).json.access.brokenAt.reason, 'batch 2 is missing', 'the removed batch is still named');
      assert.equal((await cp.call('rafael.reviewer', 'POST', '/api/v1/audit/purge')).status, 403);
    });
  });
}
