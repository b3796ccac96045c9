/** @module Smoke test for the publish-latency benchmark: two publishes through the admin API reach both gateway processes (never timing assertions). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPublishLatency, runPublishLatencyBench } from './publish-latency.js';

test('publish-latency bench publishes through the admin API and both gateway nodes enforce it', { timeout: 300_000 }, async () => {
  const report = await runPublishLatencyBench({ publishes: 2, log: () => {} });
  assert.equal(report.nodes, 2);
  assert.equal(report.latenciesMs.length, 2);
  assert.ok(report.perNodeMs.every((times) => times.length === 2 && times.every((t) => t >= 0)));
  assert.ok(report.p50 <= report.p99 && report.p99 <= report.max);
  assert.equal(report.nodesReportedCurrent, true);
  assert.match(formatPublishLatency(report), /PASS|FAIL/);
});
