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

interface PacedCounts {
  latencies: Float64Array;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  stallMs: number;
}

/** Sends `rate * seconds` requests on a fixed schedule and resolves once all have settled. */
function pacedPhase(spec: LoadSpec, agent: Agent, rate: number, seconds: number): Promise<PacedCounts> {
  const url = new URL(spec.url);
  const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
  const headers: Record<string, string> = { ...spec.headers };
  if (body !== undefined) headers['content-length'] = String(body.length);
  const total = Math.max(1, Math.round(rate * seconds));
  const intervalMs = 1000 / rate;
  const counts: PacedCounts = { latencies: new Float64Array(total), ok: 0, non2xx: 0, errors: 0, timeouts: 0, stallMs: 0 };

  return new Promise((resolve) => {
    let sent = 0;
    let settled = 0;
    const start = performance.now();
    const settle = (): void => {
      settled += 1;
      if (settled === total) resolve({ ...counts, latencies: counts.latencies.subarray(0, counts.ok) });
    };
    const fire = (dueAt: number): void => {
      let done = false;
      const req = request(
        { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: spec.method, headers },
        (res) => {
          const status = res.statusCode ?? 0;
          res.on('data', () => {});
          res.on('end', () => {
            if (done) return;
            done = true;
            if (status >= 200 && status < 300) counts.latencies[counts.ok++] = performance.now() - dueAt;
            else counts.non2xx += 1;
            settle();
          });
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () => {
        if (done) return;
        done = true;
        counts.timeouts += 1;
        counts.errors += 1;
        req.destroy();
        settle();
      });
      req.on('error', () => {
        if (done) return;
        done = true;
        counts.errors += 1;
        settle();
      });
      req.end(body);
    };
    // Polling with setImmediate keeps the schedule to a few µs at the cost of one busy core:
    // the generator owns core 1, and timers alone would bunch sends into 1 ms clumps.
    let lastTick = start;
    const tick = (): void => {
      const now = performance.now();
      if (now - lastTick > 1) counts.stallMs += now - lastTick;
      lastTick = now;
      while (sent < total && start + sent * intervalMs <= now) {
        fire(start + sent * intervalMs);
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
    if (spec.warmupSec > 0) await pacedPhase(spec, agent, spec.rate, spec.warmupSec);
    const started = performance.now();
    const counts = await pacedPhase(spec, agent, spec.rate, spec.durationSec);
    const elapsedSec = (performance.now() - started) / 1000;
    const sorted = counts.latencies.slice().sort();
    return {
      mode: 'paced',
      rps: counts.ok / elapsedSec,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: percentile(sorted, 1),
      requests: counts.ok + counts.non2xx,
      non2xx: counts.non2xx,
      errors: counts.errors,
      timeouts: counts.timeouts,
      durationSec: elapsedSec,
      targetRate: spec.rate,
      generatorStallMs: counts.stallMs,
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
