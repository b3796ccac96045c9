/** @module The benches' machine figures: steal read from the kernel and warned of past its threshold; memory latency measured. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPublishLatency, type PublishLatencyReport } from './publish-latency.js';
import { machineStealMs, memoryLatencyNs, STEAL_FLAG_PCT, stealWarning, watchSteal } from './machine.js';

test('steal is read from /proc/stat on Linux, as a share of one core since the watch began', { skip: process.platform !== 'linux' && 'steal is a Linux /proc/stat figure' }, async () => {
  const total = machineStealMs();
  assert.ok(total !== undefined && total >= 0 && Number.isInteger(total / 10), 'whole 10 ms ticks since boot');
  const stealSince = watchSteal();
  await new Promise((done) => setTimeout(done, 200));
  const pct = stealSince();
  // Two CPUs can lose at most 200 % of one core; the figure itself depends on the host.
  assert.ok(pct !== undefined && pct >= 0 && pct <= 100 * 2 * 1.5, `steal ${pct}`);
});

test('a warning only past the threshold, naming the share and when', () => {
  assert.equal(stealWarning(undefined, 'during the run'), undefined);
  assert.equal(stealWarning(STEAL_FLAG_PCT, 'during the run'), undefined);
  assert.equal(stealWarning(47.6, 'during the run'), 'WARNING: the hypervisor withheld 48% of a core (steal) during the run; the figures are skewed.');
});

test('the publish-latency report prints the warning as a line of its own', () => {
  const report: PublishLatencyReport = {
    publishes: 2,
    nodes: 2,
    latenciesMs: [100, 120],
    perNodeMs: [[90, 100], [110, 120]],
    publishCallMs: [20, 22],
    p50: 100,
    p95: 120,
    p99: 120,
    max: 120,
    targetP99Ms: 1000,
    pass: true,
    nodesReportedCurrent: true,
    environment: { node: process.version, cpus: 2, store: 'sqlite', gateways: 'separate processes (gateway/main.ts, tsx, the gateway node flags)' },
  };
  assert.ok(!formatPublishLatency(report).includes('WARNING'));
  const lines = formatPublishLatency({ ...report, stealPct: 30 }).split('\n');
  assert.equal(lines.at(-2), '  WARNING: the hypervisor withheld 30% of a core (steal) during the publishes; the figures are skewed.');
  assert.equal(lines.at(-1), '  PASS');
});

test('memory latency is a finite time per load (what it is depends on the host, so no bound is asserted)', () => {
  const ns = memoryLatencyNs(1, 100_000);
  assert.ok(Number.isFinite(ns) && ns > 0, `${ns} ns`);
});
