/**
 * @module How access records are stored and hashed, on SQLite and PostgreSQL: the fast
 * canonical JSON of a record row is byte for byte `canonicalJson` (so chains written before
 * still verify), records with awkward text (quotes, backslashes, control characters, non-ASCII,
 * JSON-looking strings) and every nullable column come back exactly as sent through the
 * one-statement JSON insert, concurrent appends from several nodes keep one unbroken chain, and
 * a traceId is found whether its records lie within the hours probed or far beyond them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, type AccessRecord } from '../../contracts/index.js';
import { accessRecordView, appendAccessBatch, canonicalRecordRow, verifyAccessChain } from '../../control-plane/access/store.js';
import { pagesOfAccess, searchAccess, type AccessFilter } from '../../control-plane/access/search.js';
import type { AccessRecordsTable } from '../../control-plane/store/schema.js';
import { accessRecord } from '../support/access-records.js';
import { ENGINES, openTestStore } from '../support/stores.js';

const AWKWARD = ['say "hi"', 'C:\\temp\\x', 'tab\there', 'line\nbreak', '\u0001\u001f', 'café ☕ 😀', '\u2028\u2029', '{"json":[1,2]}', 'NULL', '', ' lead and trail '];

function row(overrides: Partial<AccessRecordsTable>): AccessRecordsTable {
  return {
    batch_seq: 12,
    idx: 3,
    at: '2026-11-20T10:00:00.000Z',
    node_id: 'gw-1',
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    request_id: 'req-1',
    api: 'erp-orders',
    version: '1.4.0',
    operation: 'getOrder',
    method: 'GET',
    path: '/orders/SO1',
    status: 200,
    decision: 'allow',
    latency_us: 1250,
    upstream_latency_us: 750,
    upstream_status: 200,
    consumer: 'storefront',
    subject: 'user-17',
    client_address: '10.0.0.1',
    snapshot_hash: 'a'.repeat(64),
    aborted: 0,
    ...overrides,
  };
}

describe('canonical JSON of an access record row', () => {
  it('is exactly canonicalJson of the normalised row, whatever the text', () => {
    const rows = [
      row({}),
      row({ api: null, version: null, operation: null, upstream_latency_us: null, upstream_status: null, consumer: null, subject: null, aborted: 1 }),
      row({ batch_seq: 2_147_483_647, idx: 1999, latency_us: 0, status: 599 }),
      ...AWKWARD.map((text, i) => row({ path: text, subject: text, consumer: text, decision: text, idx: i })),
    ];
    for (const r of rows) assert.equal(canonicalRecordRow(r), canonicalJson(r), JSON.stringify(r));
    // A driver that answers integers as strings hashes the same as one that answers numbers.
    const asStrings = { ...row({}), batch_seq: '12', idx: '3', status: '200', latency_us: '1250', upstream_latency_us: '750', upstream_status: '200', aborted: '0' } as unknown as AccessRecordsTable;
    assert.equal(canonicalRecordRow(asStrings), canonicalJson(row({})));
    assert.throws(() => canonicalRecordRow(row({ latency_us: Number.NaN })), /NaN is not allowed/);
  });
});

for (const engine of ENGINES) {
  describe(`access record storage on ${engine}`, () => {
    it('stores awkward text and nulls exactly and keeps the chain verifiable', async (t) => {
      const store = await openTestStore(t, engine);
      if (store === undefined) return;
      t.after(() => store.dispose());
      const sent: AccessRecord[] = [
        ...AWKWARD.map((text, i) => accessRecord({ time: `2026-11-20T10:00:0${i % 10}.${String(i).padStart(3, '0')}Z`, path: `/search?q=${text}`, consumer: text, subject: text, decision: `code-${text}`, operation: text })),
        accessRecord({ api: null, version: null, operation: null, consumer: null, subject: null, upstreamLatencyMs: null, upstreamStatus: null, aborted: true, latencyMs: 0.0004 }),
        accessRecord({ latencyMs: 9_999_999, upstreamLatencyMs: 12.3456 }),
      ];
      const receipt = await appendAccessBatch(store.db, store.dialect, Date.parse('2026-11-20T10:01:00Z'), { nodeId: 'gw-1', batchId: 'b1', records: sent });
      assert.deepEqual([receipt.accepted, receipt.seq, receipt.duplicate], [sent.length, 1, false]);
      const stored = await store.db.selectFrom('access_records').selectAll().orderBy('idx').execute();
      const views = stored.map(accessRecordView);
      assert.equal(views.length, sent.length);
      for (const [i, record] of sent.entries()) {
        const { nodeId, batchSeq, ...view } = views[i]!;
        assert.deepEqual([nodeId, batchSeq], ['gw-1', 1]);
        // Stored in whole microseconds, capped at 2^31 - 1.
        const micros = (ms: number | null): number | null => (ms === null ? null : Math.min(2_147_483_647, Math.round(ms * 1000)) / 1000);
        assert.deepEqual(view, { ...record, time: new Date(record.time).toISOString(), latencyMs: micros(record.latencyMs), upstreamLatencyMs: micros(record.upstreamLatencyMs) }, `record ${i}`);
      }
      assert.deepEqual(await verifyAccessChain(store.db), { intact: true, batches: 1, records: sent.length, head: receipt.hash });
    });

    it('chains concurrent appends from several nodes into one unbroken chain', async (t) => {
      const store = await openTestStore(t, engine);
      if (store === undefined) return;
      t.after(() => store.dispose());
      const nodes = ['gw-1', 'gw-2', 'gw-3', 'gw-4'];
      const receipts = await Promise.all(
        nodes.flatMap((nodeId) =>
          [1, 2, 3].map((n) =>
            appendAccessBatch(store.db, store.dialect, Date.now(), {
              nodeId,
              batchId: `b${n}`,
              records: Array.from({ length: 50 }, (_, i) => accessRecord({ requestId: `${nodeId}-${n}-${i}`, consumer: nodeId })),
            }),
          ),
        ),
      );
      assert.deepEqual(receipts.map((r) => r.seq).sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
      const verdict = await verifyAccessChain(store.db);
      assert.deepEqual(verdict, { intact: true, batches: 12, records: 600, head: receipts.find((r) => r.seq === 12)!.hash });
    });

    it('finds a trace hour by hour, and by trace id alone once its records span more hours than are probed', async (t) => {
      const store = await openTestStore(t, engine);
      if (store === undefined) return;
      t.after(() => store.dispose());
      const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const at = (iso: string, requestId: string, traceId = trace) => accessRecord({ time: iso, requestId, traceId });
      await appendAccessBatch(store.db, store.dialect, Date.now(), { nodeId: 'gw-1', batchId: 'b1', records: [at('2026-11-20T10:59:59.999Z', 'r1'), at('2026-11-20T11:00:00.000Z', 'other', 'f'.repeat(32)), at('2026-11-20T12:30:00.000Z', 'r2')] });
      const found = async (filter: AccessFilter) => (await searchAccess(store.db, { traceId: trace, ...filter }, 10)).rows.map((r) => r.request_id);
      assert.deepEqual(await found({}), ['r2', 'r1']);
      assert.deepEqual(await found({ from: '2026-11-20T11:00:00.000Z' }), ['r2']);
      assert.deepEqual(await found({ to: '2026-11-20T11:00:00.000Z' }), ['r1']);
      assert.deepEqual(await found({ from: '2026-11-20T11:00:00.000Z', to: '2026-11-20T12:00:00.000Z' }), []);
      // A batch from a node whose clock jumped years: the hours it spans are too many to probe
      // one by one, and the lookup still finds every record.
      await appendAccessBatch(store.db, store.dialect, Date.now(), { nodeId: 'gw-2', batchId: 'b1', records: [at('2019-03-01T00:00:00.000Z', 'r0'), at('2026-11-20T13:00:00.000Z', 'other-2', 'e'.repeat(32))] });
      assert.deepEqual(await found({}), ['r2', 'r1', 'r0']);
      const exported: string[] = [];
      for await (const rows of pagesOfAccess(store.db, { traceId: trace }, 2)) exported.push(...rows.map((r) => r.request_id));
      assert.deepEqual(exported, ['r0', 'r1', 'r2']);
    });
  });
}
