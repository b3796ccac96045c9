/** @module Smoke test for the benchmark harness: it starts servers, loads them and reports sane numbers (never timing assertions). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport, runBench, SHAPES, TARGETS } from './run.js';

// Takes ~15 s on a quiet fast VM, 45-70 s on a slow one and 230 s when its memory was slowest
// (each run first waits up to 2 s for a quiet machine): the timeout only catches a hang.
test('bench harness measures the upstream directly and through the baseline proxy', { timeout: 600_000 }, async () => {
  const baseline = TARGETS.find((target) => target.role === 'baseline')!;
  // A second baseline process as the candidate: the pairing works without building the gateway.
  // It takes two fixed-rate pairs where the bench's default is one: a row's own count holds.
  const candidate = { ...baseline, name: 'twin', label: 'baseline twin', role: 'candidate' as const, fixedRateRuns: 2 };
  const report = await runBench({
    targets: [...TARGETS.filter((target) => target.role !== 'candidate'), candidate],
    shapes: SHAPES,
    durationSec: 1,
    warmupSec: 0,
    runs: 1,
    // The closed loop on its own schedule: two pairs, while the fixed-rate phase runs once. Two
    // seconds each: a run's req/s is the mean of autocannon's per-second samples, and a 1-s run
    // whose server answered nothing in its first second (a stalled VM) reads 0 and pairs with none.
    closed: { runs: 2, durationSec: 2, warmupSec: 0 },
    connections: 10,
    fixedRate: true,
    quiet: { maxMs: 2000, cpuPct: 5 },
    log: () => {},
  });
  assert.deepEqual(report.settings.quiet, { maxMs: 2000, cpuPct: 5 });
  // The machine's memory latency, before and after, is in the report and its text.
  const latency = report.memoryLatencyNs;
  assert.ok(latency !== undefined && latency.before > 0 && latency.after > 0 && Number.isFinite(latency.before + latency.after));
  assert.match(formatReport(report), new RegExp(`Memory latency \\(a random load over 16 MB\\): ${latency.before.toFixed(0)} ns before the runs, ${latency.after.toFixed(0)} ns after\\.`));

  assert.equal(report.shapes.length, SHAPES.length);
  for (const shape of report.shapes) {
    assert.deepEqual(
      shape.targets.map((target) => target.name),
      ['direct', 'baseline', 'twin'],
    );
    for (const target of shape.targets) {
      assert.equal(target.status, 'ok', `${shape.shape.name}/${target.name}: ${target.reason ?? ''}`);
      const closed = target.closed;
      assert.ok(closed !== undefined, `${shape.shape.name}/${target.name} has closed-loop results`);
      assert.equal(closed.runs.length, 2);
      assert.ok(closed.rps > 0, `${shape.shape.name}/${target.name} req/s > 0`);
      assert.equal(closed.errors, 0);
      assert.equal(closed.non2xx, 0);
      // Each run waited for the machine to go quiet first (at least one look at it).
      for (const run of [...closed.runs, ...(target.fixedRate?.runs ?? [])]) assert.ok((run.quietWaitMs ?? -1) >= 200, `${target.name} waited for quiet`);
      // On Linux every run says how much CPU the hypervisor withheld meanwhile (usually 0).
      if (process.platform === 'linux') {
        for (const run of closed.runs) assert.ok(typeof run.stealPct === 'number' && run.stealPct >= 0, `${target.name} run has a steal figure`);
        assert.equal(closed.maxStealPct, Math.max(...closed.runs.map((run) => run.stealPct!)));
      }
    }
    // The candidate's throughput ratio is the median of its runs paired with adjacent baseline runs.
    const twin = shape.targets.find((target) => target.name === 'twin');
    assert.equal(twin?.pairedRatios?.length, 2);
    assert.ok(twin.pairedRatios.every((ratio) => ratio > 0));
    const [a, b] = twin.pairedRatios as [number, number];
    assert.equal(shape.verdicts[0]?.throughputRatio, (a + b) / 2, 'the median of the pairs');
    assert.equal(twin.fixedRate?.runs.length, 2, 'the fixed-rate phase keeps its own run count, the row\'s own here');
    // Its p99 verdict is the paired difference too: each twin run minus the baseline run beside it.
    const pacedBaseline = shape.targets.find((target) => target.role === 'baseline')!.fixedRate!.runs;
    assert.equal(pacedBaseline.length, 2, 'the baseline ran beside each of them');
    assert.deepEqual(twin.pairedP99DeltasMs, [0, 1].map((i) => twin.fixedRate!.runs[i]!.p99 - pacedBaseline[i]!.p99));
    const [d0, d1] = twin.pairedP99DeltasMs as [number, number];
    assert.equal(shape.verdicts[0]?.p99DeltaMs, (d0 + d1) / 2);
    // The fixed-rate phase runs against the baseline at half its closed-loop throughput.
    const baseline = shape.targets.find((target) => target.role === 'baseline');
    assert.ok(shape.fixedRate !== undefined && shape.fixedRate > 0);
    assert.ok(baseline?.fixedRate !== undefined);
    assert.ok(baseline.fixedRate.rps > 0);
    assert.equal(baseline.fixedRate.errors, 0);
    assert.equal(baseline.fixedRate.non2xx, 0);
    assert.ok(baseline.fixedRate.p99 >= baseline.fixedRate.p50);
  }
});
