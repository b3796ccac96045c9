/**
 * @module What the machine was like while a bench ran, for the benches' reports. Steal: CPU time
 * the hypervisor withheld from this VM's CPUs while they had work (`steal` in /proc/stat); time
 * stolen from a server or a load generator stalls it whatever its code does. Memory latency: this
 * VM runs in two states, and in the slow one a random load over 16 MB takes ~160 ns, not tens,
 * and every Node process slows down several times, the baseline proxy with it.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * Steal above this (% of one core) over a measurement makes its figures unreliable. On this VM
 * steal read 0 in earlier sessions; with the host contended (2026-11-28) it read ~8 % of a core
 * idle and ~50 % under load, and the bare baseline proxy answered 300-1,500 req/s, not
 * 3,000-12,000.
 */
export const STEAL_FLAG_PCT = 5;

/** Linux USER_HZ: /proc reports CPU time in 10 ms ticks. */
export const MS_PER_TICK = 10;

/** The aggregate `cpu` line of /proc/stat, in ticks (`cpu user nice system idle iowait irq softirq steal …`); undefined off Linux. */
function cpuTicks(): number[] | undefined {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return undefined;
  }
}

/**
 * CPU time all processes spent in user and system mode since boot, in ms; undefined off Linux.
 * irq and softirq are left out, as they are in per-process times.
 */
export function machineCpuMs(): number | undefined {
  const ticks = cpuTicks();
  return ticks === undefined ? undefined : (ticks[0]! + ticks[1]! + ticks[2]!) * MS_PER_TICK;
}

/** Steal of all CPUs since boot, in ms; undefined off Linux or where the kernel does not report it. */
export function machineStealMs(): number | undefined {
  const steal = cpuTicks()?.[7];
  return steal !== undefined && Number.isFinite(steal) ? steal * MS_PER_TICK : undefined;
}

/**
 * Starts watching steal; the returned function gives the steal since then, in % of one core.
 *
 * @example
 * const stealSince = watchSteal();
 * await measure();
 * const stealPct = stealSince(); // undefined off Linux
 */
export function watchSteal(): () => number | undefined {
  const before = machineStealMs();
  const startedAt = performance.now();
  return () => {
    const after = machineStealMs();
    if (before === undefined || after === undefined) return undefined;
    return ((after - before) / Math.max(1, performance.now() - startedAt)) * 100;
  };
}

/** The warning a report prints when steal went over `STEAL_FLAG_PCT`; undefined otherwise. */
export function stealWarning(stealPct: number | undefined, when: string): string | undefined {
  if (stealPct === undefined || stealPct <= STEAL_FLAG_PCT) return undefined;
  return `WARNING: the hypervisor withheld ${Math.round(stealPct)}% of a core (steal) ${when}; the figures are skewed.`;
}

/**
 * Mean latency of a dependent random load over `mb` megabytes, in ns: one pointer chase (an
 * Int32Array holding a single random cycle, Sattolo's shuffle), timed over `loads` loads. Tells
 * a run on a machine whose caches are thrashed by its neighbours from one that is not.
 *
 * @example
 * const ns = memoryLatencyNs(); // ~160 on this VM in its slow state
 */
export function memoryLatencyNs(mb = 16, loads = 5_000_000): number {
  const slots = (mb * 1024 * 1024) / 4;
  const next = new Int32Array(slots);
  for (let i = 0; i < slots; i++) next[i] = i;
  // A fixed-seed LCG: the same cycle every time, so runs compare.
  let seed = 1;
  for (let i = slots - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = Math.floor((seed / 4294967296) * i);
    const swap = next[i]!;
    next[i] = next[j]!;
    next[j] = swap;
  }
  let at = 0;
  for (let i = 0; i < slots; i++) at = next[at]!; // brings the array in once
  const startedAt = process.hrtime.bigint();
  for (let i = 0; i < loads; i++) at = next[at]!;
  const ns = Number(process.hrtime.bigint() - startedAt) / loads;
  // Using the result keeps the loop from being optimised away.
  return at < 0 ? Number.NaN : ns;
}
