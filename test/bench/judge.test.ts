import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judge, type BenchTarget, type PhaseSummary, type RunResult, type TargetResult } from './run.js';

function run(overrides: Partial<RunResult> = {}): RunResult {
  return { mode: 'closed', rps: 1000, p50: 1, p99: 2, max: 3, requests: 2000, non2xx: 0, errors: 0, timeouts: 0, durationSec: 2, ...overrides };
}

function phase(runs: RunResult[]): PhaseSummary {
  return { runs, rps: runs[0]!.rps, p50: runs[0]!.p50, p99: runs[0]!.p99, non2xx: 0, errors: 0, timeouts: 0 };
}

function result(name: string, role: TargetResult['role'], extra: Partial<TargetResult> = {}): TargetResult {
  return { name, label: name, role, status: 'ok', closed: phase([run()]), fixedRate: phase([run({ mode: 'paced' })]), ...extra };
}

const BASELINE = result('baseline', 'baseline');
const ROW: BenchTarget = { name: 'gateway', label: 'gateway', role: 'candidate', prefix: '/bench/v1' };
const TEN_RATIOS = [0.84, 0.86, 0.83, 0.85, 0.9, 0.81, 0.87, 0.85, 0.84, 0.88];

test('a row passes on the median of its pairs, and names where that median lies', () => {
  const deltas = [9, -4, 3, -2, 0, 5, -1, 1, 0.5, 2];
  const verdict = judge(result('gateway', 'candidate', { pairedRatios: TEN_RATIOS, pairedP99DeltasMs: deltas }), BASELINE, ROW);
  assert.equal(verdict.result, 'pass');
  assert.equal(verdict.throughputRatio, 0.85);
  assert.equal(verdict.p99DeltaMs, 0.75);
  assert.deepEqual({ low: verdict.p99DeltaInterval?.low, high: verdict.p99DeltaInterval?.high }, { low: -1, high: 3 });
  assert.match(verdict.reason, /throughput 0\.85x baseline \(need >= 0\.8\) ok/);
  assert.match(verdict.reason, /p99 \+0\.75 ms vs baseline \(pairs -4\.00 to \+9\.00; median within -1\.00 to \+3\.00 at 89%\) \(need <= 1 ms\) ok/);
});

test('a p99 median over 1 ms fails the row; a row without a p99 target is judged on throughput alone', () => {
  const deltas = [1.5, 1.2, 0.8, 2, 1.1, 1.4, 0.9, 1.6, 1.3, 1.2];
  const candidate = result('gateway', 'candidate', { pairedRatios: TEN_RATIOS, pairedP99DeltasMs: deltas });
  const failed = judge(candidate, BASELINE, ROW);
  assert.equal(failed.result, 'fail');
  assert.match(failed.reason, /p99 \+1\.25 ms vs baseline .*\(need <= 1 ms\) FAIL/);
  const untargeted = judge(candidate, BASELINE, { ...ROW, judgeP99: false, minThroughputRatio: 0.75 });
  assert.equal(untargeted.result, 'pass');
  assert.match(untargeted.reason, /\(no target for this row\)/);
});

test('throughput below the row\'s own target fails it', () => {
  const verdict = judge(result('gateway-auth', 'candidate', { pairedRatios: [0.7, 0.72, 0.71, 0.69, 0.7], pairedP99DeltasMs: [0, 0, 0, 0, 0] }), BASELINE, { ...ROW, minThroughputRatio: 0.75 });
  assert.equal(verdict.result, 'fail');
  assert.match(verdict.reason, /throughput 0\.70x baseline \(need >= 0\.75\) FAIL/);
});

test('errors in any run make the verdict invalid; a busy machine makes it unreliable', () => {
  const erred = result('gateway', 'candidate', { pairedRatios: TEN_RATIOS, pairedP99DeltasMs: [0, 0, 0, 0, 0] });
  erred.fixedRate = { ...phase([run({ mode: 'paced', errors: 3 })]), errors: 3 };
  assert.equal(judge(erred, BASELINE, ROW).result, 'invalid');

  const busy = result('gateway', 'candidate', { pairedRatios: TEN_RATIOS, pairedP99DeltasMs: [0, 0, 0, 0, 0] });
  busy.closed = { ...busy.closed!, maxForeignCpuPct: 40 };
  const verdict = judge(busy, BASELINE, ROW);
  assert.equal(verdict.result, 'unreliable');
  assert.match(verdict.reason, /^other processes used up to 40% CPU during runs; /);
});

test('CPU the hypervisor withheld (steal) during any run, the baseline\'s included, makes the verdict unreliable', () => {
  const candidate = result('gateway', 'candidate', { pairedRatios: TEN_RATIOS, pairedP99DeltasMs: [0, 0, 0, 0, 0] });
  const contended = { ...BASELINE, fixedRate: { ...BASELINE.fixedRate!, maxStealPct: 48 } };
  const verdict = judge(candidate, contended, ROW);
  assert.equal(verdict.result, 'unreliable');
  assert.match(verdict.reason, /^the hypervisor withheld up to 48% of a core \(steal\) during runs; throughput 0\.85x/);
  // A few ticks of steal (10 ms each) are noise, not contention.
  const calm = { ...BASELINE, fixedRate: { ...BASELINE.fixedRate!, maxStealPct: 3 } };
  assert.equal(judge(candidate, calm, ROW).result, 'pass');
});

test('no verdict without a measured baseline or a fixed-rate phase', () => {
  const candidate = result('gateway', 'candidate', { pairedRatios: TEN_RATIOS });
  assert.equal(judge(candidate, undefined, ROW).reason, 'baseline not measured');
  const noRate = judge({ ...candidate, fixedRate: undefined }, { ...BASELINE, fixedRate: undefined }, ROW);
  assert.deepEqual({ result: noRate.result, reason: noRate.reason }, { result: 'n/a', reason: 'fixed-rate phase not run' });
  assert.equal(judge({ ...candidate, status: 'failed' }, BASELINE, ROW).reason, 'gateway failed');
});
