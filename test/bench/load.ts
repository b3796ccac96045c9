/** @module Load generator process for the benchmark: runs one load spec and prints its result as one JSON line. */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

/**
 * How to load a target.
 * - `closed`: autocannon closed loop (each connection sends its next request when the
 *   previous one answers), pipelining 1.
 * - `paced`: open loop on a fixed schedule (request i is due at start + i / rate),
 *   latency timed from the due time, so a stalled server is charged for the requests it
 *   delayed (no coordinated omission).
 * - `autocannon-rate`: autocannon's `overallRate`. Kept for comparison only: autocannon
 *   lets each connection send its per-second quota back to back and then idle until the
 *   next second, so the load is a saturating burst, not a steady rate.
 */
export type LoadMode = 'closed' | 'paced' | 'autocannon-rate';

export interface LoadSpec {
  mode: LoadMode;
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  connections: number;
  durationSec: number;
  warmupSec: number;
  /** Requests per second; required for `paced` and `autocannon-rate`. */
  rate?: number;
}

export interface LoadResult {
  mode: LoadMode;
  /** Mean 2xx responses per second over the measured window. */
  rps: number;
  /** Latency percentiles in milliseconds (2xx responses only). */
  p50: number;
  p99: number;
  /** Slowest response: a stall (GC, a descheduled VM) shows here before it moves p99. */
  max: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSec: number;
  /** Rate asked for, when the mode has one. */
  targetRate?: number;
  /**
   * `paced` only: total time the generator's own loop was stalled > 1 ms while sending
   * (GC, or the VM taking the core away). Those stalls land in p99 whatever the target.
   */
  generatorStallMs?: number;
  /** CPU time this generator process used in total (user + system), in ms. */
  cpuMs?: number;
}

const REQUEST_TIMEOUT_MS = 10_000;

async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  const options: autocannon.Options = {
    url: spec.url,
    method: spec.method as autocannon.Request['method'],
    headers: spec.headers,
    connections: spec.connections,
    pipelining: 1,
    duration: spec.durationSec,
    timeout: REQUEST_TIMEOUT_MS / 1000,
  };
  if (spec.body !== undefined) options.body = spec.body;
  if (spec.mode === 'autocannon-rate') {
    if (spec.rate === undefined) throw new Error('autocannon-rate needs a rate');
    options.overallRate = spec.rate;
  }
  // A separate warm-up run instead of autocannon 8's `warmup` option, which its types lack;
  // the measured run opens fresh connections either way.
  if (spec.warmupSec > 0) await autocannon({ ...options, duration: spec.warmupSec });
  const result = await autocannon(options);
  const loadResult: LoadResult = {
    mode: spec.mode,
    rps: result.requests.mean,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    requests: result['2xx'] + result.non2xx,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSec: result.duration,
  };
  if (spec.rate !== undefined) loadResult.targetRate = spec.rate;
  return loadResult;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil(p * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? 0;
}

/** What became of each request, by its place in the schedule: latency in ms, or a failure code. */
const NON_2XX = -1;
const FAILED = -2;
const TIMED_OUT = -3;

interface PacedSchedule {
  /** One entry per request in schedule order: latency (ms, >= 0) or NON_2XX, FAILED, TIMED_OUT. */
  outcomes: Float64Array;
  /** Requests before this index were the warm-up. */
  warmup: number;
  /** Time the generator's loop was stalled > 1 ms after the warm-up, in ms. */
  stallMs: number;
  /** From the end of the warm-up to the last answer, in ms. */
  elapsedMs: number;
}

/**
 * Sends requests on one fixed schedule for `warmupSec + durationSec` and resolves once all have
 * settled; the caller counts only those due after the warm-up. Warm-up and measured requests
 * run the very same code: with a separate warm-up phase (new closures) or a branch taken only
 * once measuring starts, V8 deoptimized the generator's hot path as the measured window opened,
 * and the stalls that followed (3-12 ms, then a burst of late requests) set the p99 of most
 * runs, whatever the target.
 */
function pacedSchedule(spec: LoadSpec, agent: Agent, rate: number): Promise<PacedSchedule> {
  const url = new URL(spec.url);
  const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
  const headers: Record<string, string> = { ...spec.headers };
  if (body !== undefined) headers['content-length'] = String(body.length);
  const intervalMs = 1000 / rate;
  const warmup = Math.round(rate * spec.warmupSec);
  const total = warmup + Math.max(1, Math.round(rate * spec.durationSec));
  const outcomes = new Float64Array(total);

  return new Promise((resolve) => {
    let sent = 0;
    let settled = 0;
    let stallMs = 0;
    const start = performance.now();
    const measuredFrom = start + warmup * intervalMs;
    const settle = (index: number, outcome: number): void => {
      outcomes[index] = outcome;
      settled += 1;
      if (settled === total) resolve({ outcomes, warmup, stallMs, elapsedMs: performance.now() - measuredFrom });
    };
    const fire = (index: number, dueAt: number): void => {
      let done = false;
      const req = request(
        { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: spec.method, headers },
        (res) => {
          const status = res.statusCode ?? 0;
          res.on('data', () => {});
          res.on('end', () => {
            if (done) return;
            done = true;
            settle(index, status >= 200 && status < 300 ? performance.now() - dueAt : NON_2XX);
          });
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () => {
        if (done) return;
        done = true;
        req.destroy();
        settle(index, TIMED_OUT);
      });
      req.on('error', () => {
        if (done) return;
        done = true;
        settle(index, FAILED);
      });
      req.end(body);
    };
    // Polling with setImmediate keeps the schedule to a few µs at the cost of one busy core:
    // the generator owns core 1, and timers alone would bunch sends into 1 ms clumps.
    let lastTick = start;
    const tick = (): void => {
      const now = performance.now();
      const gap = now - lastTick;
      lastTick = now;
      stallMs += gap > 1 && now > measuredFrom ? gap : 0;
      while (sent < total && start + sent * intervalMs <= now) {
        fire(sent, start + sent * intervalMs);
        sent += 1;
      }
      if (sent < total) setImmediate(tick);
    };
    tick();
  });
}

async function runPaced(spec: LoadSpec): Promise<LoadResult> {
  if (spec.rate === undefined || spec.rate <= 0) throw new Error('paced needs a positive rate');
  // FIFO reuse cycles through every pooled socket, so none idles into a server's keep-alive timeout.
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections, scheduling: 'fifo' });
  try {
    const schedule = await pacedSchedule(spec, agent, spec.rate);
    const measured = schedule.outcomes.subarray(schedule.warmup);
    const sorted = measured.filter((outcome) => outcome >= 0).sort();
    const count = (code: number): number => measured.reduce((n, outcome) => (outcome === code ? n + 1 : n), 0);
    const timeouts = count(TIMED_OUT);
    const elapsedSec = schedule.elapsedMs / 1000;
    return {
      mode: 'paced',
      rps: sorted.length / elapsedSec,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: percentile(sorted, 1),
      requests: sorted.length + count(NON_2XX),
      non2xx: count(NON_2XX),
      errors: count(FAILED) + timeouts,
      timeouts,
      durationSec: elapsedSec,
      targetRate: spec.rate,
      generatorStallMs: schedule.stallMs,
    };
  } finally {
    agent.destroy();
  }
}

/** Runs one load spec in this process. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return spec.mode === 'paced' ? runPaced(spec) : runAutocannon(spec);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: load.ts <LoadSpec as JSON>');
  const result = await runLoad(JSON.parse(raw) as LoadSpec);
  const usage = process.cpuUsage();
  result.cpuMs = (usage.user + usage.system) / 1000;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
