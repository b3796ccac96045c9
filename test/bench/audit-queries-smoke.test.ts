/**
 * @module Smoke test for the audit benchmark: a few thousand records on SQLite (and PostgreSQL
 * when it runs; missing, it is skipped loudly, or fails under CI=true), shipped in process and
 * over HTTP, queried both ways; the report is complete and sane (never timing assertions).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENGINES, openTestStore } from '../support/stores.js';
import { formatAuditQueries, runAuditQueriesBench, type Engine, type Latencies } from './audit-queries.js';

const RECORDS = 5000;

function assertSane(latencies: Latencies | undefined, label: string): void {
  assert.ok(latencies !== undefined, `${label} measured`);
  assert.ok(latencies.samples > 0, `${label} has samples`);
  assert.ok(latencies.p50 >= 0 && latencies.p50 <= latencies.p95 && latencies.p95 <= latencies.max, `${label}: p50 <= p95 <= max`);
  assert.ok(latencies.meanRows > 0 && latencies.meanRows <= 50, `${label} answered records, at most a page`);
}

for (const engine of ENGINES) {
  test(`audit benchmark seeds, ships, queries and verifies on ${engine}`, { timeout: 120_000 }, async (t) => {
    // The same reachability rule as every PostgreSQL test (loud skip, or a failure under CI).
    const probe = await openTestStore(t, engine);
    if (probe === undefined) return;
    await probe.dispose();

    const report = await runAuditQueriesBench({ records: RECORDS, engines: [engine as Engine], httpRecords: 2000, querySamples: 10, httpQuerySamples: 3, log: () => {} });
    const result = report.engines[0]!;
    assert.equal(result.status, 'ok', result.reason);
    assert.equal(result.records, RECORDS);
    assert.equal(result.chainIntact, true);
    assert.deepEqual([result.ingest!.inProcess.records, result.ingest!.http.records], [RECORDS - 2000, 2000]);
    for (const side of [result.ingest!.inProcess, result.ingest!.http]) assert.ok(side.recordsPerSec > 0 && side.seconds > 0 && side.batches > 0);
    for (const kind of ['consumer-day', 'decision-week', 'trace-id'] as const) {
      assertSane(result.queries![kind].first, `${kind} in process`);
      assertSane(result.httpQueries![kind], `${kind} over HTTP`);
    }
    // Each traceId is one record; a week of one decision code fills pages.
    assert.equal(result.queries!['trace-id'].first.meanRows, 1);
    assertSane(result.queries!['decision-week'].next, 'decision-week next page');
    assert.ok((result.sizeMb ?? 0) > 0);
    assert.match(formatAuditQueries(report), /PASS|FAIL/);
  });
}
