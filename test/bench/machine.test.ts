/** @module The benches' machine figures: steal read from the kernel and warned of past its threshold; memory latency measured. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatAuditQueries, TARGETS, type AuditBenchReport, type EngineReport, type Latencies, type QueryKind } from './audit-queries.js';
import { formatPublishLatency, type PublishLatencyReport } from './publish-latency.js';
import { machineCpuMs, machineStealMs, memoryLatencyNs, STEAL_FLAG_PCT, stealWarning, watchSteal } from './machine.js';

/** The aggregate line of /proc/stat by its field names (proc(5)), in ticks. */
function procStat(): Record<'user' | 'nice' | 'system' | 'steal', number> {
  const [, user, nice, system, , , , , steal] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).map(Number);
  return { user: user!, nice: nice!, system: system!, steal: steal! };
}

test('steal and busy CPU are the kernel\'s own figures, and steal is a share of one core since the watch began', { skip: process.platform !== 'linux' && 'steal is a Linux /proc/stat figure' }, async () => {
  // Read between two readings of our own, by field name: the counters only grow.
  const before = procStat();
  const steal = machineStealMs();
  const busy = machineCpuMs();
  const after = procStat();
  assert.ok(steal !== undefined && steal >= before.steal * 10 && steal <= after.steal * 10, `steal ${steal} ms within ${before.steal}..${after.steal} ticks`);
  const busyTicks = (stat: ReturnType<typeof procStat>): number => stat.user + stat.nice + stat.system;
  assert.ok(busy !== undefined && busy >= busyTicks(before) * 10 && busy <= busyTicks(after) * 10, `busy ${busy} ms`);
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

test('the audit report prints the warning under the engine whose run it concerns', () => {
  const latencies: Latencies = { samples: 1, p50: 1, p95: 1, max: 1, meanRows: 1 };
  const kinds: QueryKind[] = ['consumer-day', 'decision-week', 'trace-id'];
  const ingest = { records: 10, batches: 1, seconds: 1, recordsPerSec: 10 };
  const engine = (name: EngineReport['engine'], stealPct: number): EngineReport => ({
    engine: name,
    status: 'ok',
    records: 10,
    ingest: { inProcess: ingest, http: ingest },
    queries: Object.fromEntries(kinds.map((kind) => [kind, { first: latencies }])) as EngineReport['queries'],
    httpQueries: Object.fromEntries(kinds.map((kind) => [kind, latencies])) as EngineReport['httpQueries'],
    chainIntact: true,
    stealPct,
    pass: true,
  });
  const report: AuditBenchReport = {
    records: 10,
    targets: TARGETS,
    engines: [engine('sqlite', 0.4), engine('postgres', 22)],
    pass: true,
    environment: { node: process.version, cpus: 2, batchSize: 2000, shippers: 4 },
  };
  const text = formatAuditQueries(report);
  const warnings = text.split('\n').filter((line) => line.includes('WARNING'));
  assert.deepEqual(warnings, ['    WARNING: the hypervisor withheld 22% of a core (steal) during the postgres run; the figures are skewed.']);
  assert.ok(text.indexOf('postgres:') < text.indexOf('WARNING'));
});

test('memory latency is a finite time per load (what it is depends on the host, so no bound is asserted)', () => {
  const ns = memoryLatencyNs(1, 100_000);
  assert.ok(Number.isFinite(ns) && ns > 0, `${ns} ns`);
});
