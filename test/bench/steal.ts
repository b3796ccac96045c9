/**
 * @module CPU time the hypervisor withheld from this VM's CPUs while they had work (`steal` in
 * /proc/stat), for the benches' reports: time stolen from a server or a load generator stalls
 * it whatever its code does, so figures measured meanwhile say little about the code.
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
const MS_PER_TICK = 10;

/** Steal of all CPUs since boot, in ms; undefined off Linux or where the kernel does not report it. */
export function machineStealMs(): number | undefined {
  try {
    const steal = Number(readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/)[8]);
    return Number.isFinite(steal) ? steal * MS_PER_TICK : undefined;
  } catch {
    return undefined;
  }
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
