/**
 * @module `npm run bench:instructions`: the CPU instructions one request costs the baseline (b)
 * and the gateway pass-through (c), counted by valgrind's callgrind. Seconds on this VM drift by
 * tens of percent from hour to hour (see the README's Benchmark section); an instruction count
 * does not: the same code and load give the same count whatever else the machine is doing, so
 * a change to the request path can be judged on any day. It is not time: a tight loop (V8's
 * JSON escaping) runs many instructions a cycle, a cache miss none, so the throughput and p99
 * verdicts stay with `npm run bench`.
 *
 * Each server runs under callgrind on core 0 (the upstream and autocannon on core 1: the npm
 * script pins this process there); after a warm-up long enough that V8 stops compiling the
 * request path, the counters are zeroed, a fixed number of requests is sent one at a time, and
 * the counters are dumped: every thread of the server process (GC helpers, the libuv pool
 * writing the access log), user-mode only (no kernel).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { nameJitCode, parseCallgrind, parsePerfMap } from './callgrind.js';
import { buildGatewayTarget, detectPinning, positiveNumberFromEnv, ProcessGroup, SHAPES, startServer, TARGETS, UPSTREAM_SERVER, type BenchTarget, type RequestShape } from './run.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, '../..');
const run = promisify(execFile);

export interface InstructionOptions {
  /** Requests before counting: V8 compiles the request path meanwhile (slowly, under valgrind). */
  warmupRequests: number;
  /** Requests counted. */
  requests: number;
  connections: number;
  /**
   * Also attribute the main thread's instructions to functions (node runs with
   * `--perf-basic-prof`, so JIT code is named), keeping those of at least this many per request.
   */
  functionsAbove?: number;
  /** How long a server under valgrind may take to print LISTENING. */
  startTimeoutMs: number;
  log?: (line: string) => void;
}

export interface InstructionCount {
  target: string;
  label: string;
  shape: string;
  requests: number;
  /** User-mode instructions of the server process (all threads) per counted request. */
  perRequest: number;
  /**
   * …of its main thread alone (JavaScript, the event loop, the scavenger's main part): without
   * V8's compiler threads and the libuv pool, which are still busy now and then after warm-up.
   */
  mainPerRequest: number;
  /** The main thread's self instructions per request by function, largest first (`functionsAbove`). */
  functions?: Array<{ name: string; perRequest: number }>;
}

export interface InstructionReport {
  node: string;
  valgrind: string;
  warmupRequests: number;
  requests: number;
  connections: number;
  counts: InstructionCount[];
}

async function load(url: string, shape: RequestShape, headers: Record<string, string>, amount: number, connections: number): Promise<void> {
  const result = await autocannon({
    url,
    method: shape.method,
    connections,
    amount,
    // Under valgrind a request takes ~50 times as long, and on a slow VM over autocannon's 10-s default.
    timeout: 300,
    headers: { ...shape.headers, ...headers },
    ...(shape.body === undefined ? {} : { body: shape.body }),
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
}

/**
 * The files of one `callgrind_control --dump` with `--separate-threads=yes`: `<out>.1-01` for
 * the main thread, `-02`… for the others.
 */
export function threadDumps(files: readonly string[]): Array<{ file: string; thread: number }> {
  return files.flatMap((file) => {
    const match = /^callgrind\.out\.\d+-(\d+)$/.exec(file);
    return match === null ? [] : [{ file, thread: Number(match[1]) }];
  });
}

/** The `summary:` line of a callgrind dump: the run's total of its one event, Ir. */
export function callgrindSummary(text: string): number {
  const match = /^summary:\s+(\d+)\s*$/m.exec(text);
  if (match?.[1] === undefined) throw new Error('no summary line in the callgrind dump');
  return Number(match[1]);
}

/**
 * Counts what `requests` requests of `shape` cost `target` (a baseline or candidate row of
 * `run.ts`), after `warmupRequests`.
 *
 * @example
 * const count = await countInstructions(TARGETS[1], SHAPES[0], { warmupRequests: 15_000, requests: 4000, connections: 10, startTimeoutMs: 180_000 });
 * console.log(count.perRequest);
 */
export async function countInstructions(target: BenchTarget, shape: RequestShape, options: InstructionOptions): Promise<InstructionCount> {
  if (target.script === undefined) throw new Error(`${target.name} has no server to count`);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-callgrind-'));
  const group = new ProcessGroup(detectPinning());
  let perfMap: string | undefined;
  try {
    // The upstream beside autocannon on core 1; core 0 is the counted server's.
    const upstream = await startServer(group, UPSTREAM_SERVER, join(BENCH_DIR, UPSTREAM_SERVER.script), '', { core: 1 });
    const valgrind = ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${join(dir, 'callgrind.out')}`];
    const functionsAbove = options.functionsAbove;
    // The perf map names JIT code; written as code is compiled, so it costs nothing once warm.
    // The flag also opens V8's log (isolate-*.log in the working directory): sent to `dir`.
    const profFlags = ['--perf-basic-prof', `--logfile=${join(dir, 'v8.log')}`, '--no-logfile-per-isolate'];
    const started = functionsAbove === undefined ? target : { ...target, nodeArgs: [...(target.nodeArgs ?? []), ...profFlags] };
    const server = await startServer(group, started, join(BENCH_DIR, target.script), `http://127.0.0.1:${upstream.port}`, {
      wrapper: valgrind,
      timeoutMs: options.startTimeoutMs,
    });
    if (functionsAbove !== undefined) perfMap = `/tmp/perf-${server.child.pid}.map`;
    const url = `http://127.0.0.1:${server.port}${target.prefix}${shape.path}`;
    options.log?.(`${target.name} ${shape.name}: warming up (${options.warmupRequests} requests)`);
    await load(url, shape, target.headers ?? {}, options.warmupRequests, options.connections);
    // valgrind runs node in its own process (and taskset execs valgrind): the pid to control.
    await run('callgrind_control', ['--zero', String(server.child.pid)]);
    options.log?.(`${target.name} ${shape.name}: counting ${options.requests} requests`);
    await load(url, shape, target.headers ?? {}, options.requests, options.connections);
    await run('callgrind_control', ['--dump', String(server.child.pid)]);
    const dumps = threadDumps(readdirSync(dir)).map((dump) => ({ ...dump, text: readFileSync(join(dir, dump.file), 'utf8') }));
    const main = dumps.find((dump) => dump.thread === 1);
    if (main === undefined) throw new Error(`${target.name}: callgrind wrote no dump of the main thread`);
    const total = dumps.reduce((sum, dump) => sum + callgrindSummary(dump.text), 0);
    const count: InstructionCount = {
      target: target.name,
      label: target.label,
      shape: shape.name,
      requests: options.requests,
      perRequest: Math.round(total / options.requests),
      mainPerRequest: Math.round(callgrindSummary(main.text) / options.requests),
    };
    if (perfMap !== undefined && functionsAbove !== undefined) {
      const costs = nameJitCode(parseCallgrind(main.text), parsePerfMap(readFileSync(perfMap, 'utf8')));
      count.functions = [...costs]
        .map(([name, cost]) => ({ name, perRequest: Math.round(cost / options.requests) }))
        .filter((row) => row.perRequest >= functionsAbove)
        .sort((a, b) => b.perRequest - a.perRequest);
    }
    return count;
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
    if (perfMap !== undefined) rmSync(perfMap, { force: true });
  }
}

/** `+1,234` / `-56`. */
function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toLocaleString('en-US')}`;
}

/** Functions shown where the candidate's main thread differs most from the baseline's. */
const FUNCTION_ROWS = 40;

export function formatInstructionReport(report: InstructionReport): string {
  const lines = [`Instructions per request (callgrind; ${report.warmupRequests} warm-up, ${report.requests} counted, ${report.connections} at a time; ${report.valgrind}, node ${report.node})`];
  for (const shape of new Set(report.counts.map((count) => count.shape))) {
    const rows = report.counts.filter((count) => count.shape === shape);
    const baseline = rows.find((count) => TARGETS.find((t) => t.name === count.target)?.role === 'baseline');
    lines.push('', `${shape}${' '.repeat(Math.max(1, 35 - shape.length))}all threads   main thread`);
    for (const row of rows) {
      const versus = baseline === undefined || row === baseline ? '' : `  ${(row.perRequest / baseline.perRequest).toFixed(3)}x / ${(row.mainPerRequest / baseline.mainPerRequest).toFixed(3)}x baseline (${signed(row.perRequest - baseline.perRequest)} / ${signed(row.mainPerRequest - baseline.mainPerRequest)})`;
      lines.push(`  ${row.label.padEnd(24)} ${row.perRequest.toLocaleString('en-US').padStart(11)} ${row.mainPerRequest.toLocaleString('en-US').padStart(13)}${versus}`);
    }
    for (const row of rows) {
      if (row === baseline || row.functions === undefined || baseline?.functions === undefined) continue;
      const base = new Map(baseline.functions.map((f) => [f.name, f.perRequest]));
      const cand = new Map(row.functions.map((f) => [f.name, f.perRequest]));
      const diffs = [...new Set([...base.keys(), ...cand.keys()])]
        .map((name) => ({ name, base: base.get(name) ?? 0, cand: cand.get(name) ?? 0 }))
        .sort((a, b) => Math.abs(b.cand - b.base) - Math.abs(a.cand - a.base))
        .slice(0, FUNCTION_ROWS);
      lines.push('', `  main thread by function, ${row.label} minus ${baseline.label} (largest differences; self instructions per request):`);
      for (const diff of diffs) lines.push(`  ${signed(diff.cand - diff.base).padStart(9)} ${diff.base.toLocaleString('en-US').padStart(8)} -> ${diff.cand.toLocaleString('en-US').padStart(8)}  ${diff.name.slice(0, 110)}`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  let valgrind: string;
  try {
    valgrind = (await run('valgrind', ['--version'])).stdout.trim();
  } catch {
    process.stderr.write('valgrind is not installed (Debian: apt-get install valgrind); it counts the instructions.\n');
    process.exit(1);
  }
  buildGatewayTarget();
  const options: InstructionOptions = {
    warmupRequests: Math.round(positiveNumberFromEnv('INSTRUCTIONS_WARMUP', 15_000)),
    requests: Math.round(positiveNumberFromEnv('INSTRUCTIONS_REQUESTS', 4000)),
    // One request at a time: how many requests share an event-loop turn changes the count per
    // request, and with more connections that depends on timing; at half rate, where the p99 is
    // judged, the servers see requests one by one as well.
    connections: Math.round(positiveNumberFromEnv('INSTRUCTIONS_CONNECTIONS', 1)),
    // Per-function rows of the main thread (node with --perf-basic-prof), from this many instructions a request.
    ...(process.env.INSTRUCTIONS_FUNCTIONS === undefined ? {} : { functionsAbove: positiveNumberFromEnv('INSTRUCTIONS_FUNCTIONS', 100) }),
    startTimeoutMs: 600_000,
    log: (line) => process.stderr.write(`${line}\n`),
  };
  const targets = TARGETS.filter((target) => target.role !== 'direct');
  const counts: InstructionCount[] = [];
  const only = process.env.INSTRUCTIONS_SHAPES?.split(',');
  const shapes = only === undefined ? SHAPES : SHAPES.filter((shape) => only.includes(shape.name));
  for (const shape of shapes) for (const target of targets) counts.push(await countInstructions(target, shape, options));
  const report: InstructionReport = { node: process.versions.node, valgrind, warmupRequests: options.warmupRequests, requests: options.requests, connections: options.connections, counts };
  process.stdout.write(`${formatInstructionReport(report)}\n`);
  const out = join(REPO_ROOT, '.bench', 'instructions.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nresults written to ${out}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
