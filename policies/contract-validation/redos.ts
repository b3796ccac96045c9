/**
 * @module The ReDoS gate: every regular expression a contract's schemas use is checked with
 * recheck before the snapshot is accepted. ajv runs patterns with V8's backtracking engine on
 * caller-controlled strings, so one pattern like `^(a+)+$` lets a 30-character value hold the
 * event loop for seconds; that is refused when the snapshot compiles, never met on a request.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { SnapshotScope } from '../define-policy.js';
import type { FoundPattern } from './convert.js';

/** A pattern's verdict: safe, or why it is refused. */
type Verdict = { safe: true } | { safe: false; reason: string };

/** ajv compiles `pattern` with the `u` flag (its `unicodeRegExp` default), so that is what is checked. */
const FLAGS = 'u';
/** Budget per pattern. recheck answers typical contract patterns in milliseconds; this bounds the odd one. */
const CHECK_TIMEOUT_MS = 2000;
/** Starting the checker's thread and loading recheck into it. */
const WORKER_START_MS = 10_000;

/** What the checker's thread reports per pattern: recheck's diagnostics, boiled down. */
type Gist =
  | { status: 'safe' }
  | { status: 'vulnerable'; summary: string }
  | { status: 'unknown'; kind: string; message?: string }
  | { status: 'failed'; message: string };

/**
 * The checker's thread (CommonJS, as `node -e` code). recheck is judged there, never in the
 * gateway's own heap: it is ~9 MB (a compiled Scala library) that every major GC would mark for
 * the gateway's lifetime, and that pause is the gateway's worst request latency. The thread ends
 * once the patterns are judged. `pure` runs recheck's checker in this thread itself, without the
 * extra thread its synchronous API starts by default.
 */
const CHECKER = `
const { workerData } = require('node:worker_threads');
const { module, sources, flags, timeoutMs, port, done } = workerData;
let gists;
try {
  const { checkSync } = require(module);
  gists = sources.map((source) => {
    try {
      const d = checkSync(source, flags, { timeout: timeoutMs });
      if (d.status === 'safe') return { status: 'safe' };
      if (d.status === 'vulnerable') return { status: 'vulnerable', summary: d.complexity.summary };
      return { status: 'unknown', kind: d.error.kind, message: d.error.message };
    } catch (error) {
      return { status: 'failed', message: String(error && error.message) };
    }
  });
} catch (error) {
  gists = sources.map(() => ({ status: 'failed', message: String(error && error.message) }));
}
port.postMessage(gists);
Atomics.store(done, 0, 1);
Atomics.notify(done, 0);
`;

const RECHECK_MODULE = createRequire(import.meta.url).resolve('recheck');

/**
 * Judges patterns in a thread of their own and waits for it: the snapshot compile is
 * synchronous, and a compile that brings new patterns is rare (verdicts are kept).
 */
function judgeAll(sources: readonly string[]): Verdict[] {
  const done = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(CHECKER, {
    eval: true,
    env: { ...process.env, RECHECK_SYNC_BACKEND: 'pure' },
    workerData: { module: RECHECK_MODULE, sources, flags: FLAGS, timeoutMs: CHECK_TIMEOUT_MS, port: port2, done },
    transferList: [port2],
  });
  try {
    Atomics.wait(done, 0, 0, WORKER_START_MS + sources.length * CHECK_TIMEOUT_MS * 2);
    const gists = receiveMessageOnPort(port1)?.message as Gist[] | undefined;
    if (gists === undefined) return sources.map(() => ({ safe: false, reason: 'could not be analysed (the checker did not answer); use a simpler pattern' }));
    return gists.map(toVerdict);
  } finally {
    port1.close();
    void worker.terminate();
  }
}

function toVerdict(gist: Gist): Verdict {
  if (gist.status === 'safe') return { safe: true };
  if (gist.status === 'vulnerable') {
    return { safe: false, reason: `risks catastrophic backtracking (${gist.summary}); rewrite it without nested or overlapping quantifiers` };
  }
  if (gist.status === 'failed') return { safe: false, reason: `could not be analysed (${gist.message})` };
  // `unknown` (timeout, unsupported syntax, invalid pattern) is refused too: a pattern that
  // cannot be shown safe runs on untrusted input at every request, and the fix (a simpler
  // pattern) is in the contract author's hands, whereas a slow pattern stalls every caller.
  const why = gist.kind === 'timeout' ? `was not proven safe within ${CHECK_TIMEOUT_MS} ms` : `could not be analysed (${gist.kind}${gist.message === undefined ? '' : `: ${gist.message}`})`;
  return { safe: false, reason: `${why}; use a simpler pattern` };
}

/**
 * Problems (one per refused location) for the patterns found. Each distinct pattern is checked
 * once; verdicts are kept in `lasting` (they depend on the pattern alone), so republishing a
 * snapshot does not pay recheck's time again.
 *
 * @example
 * refusedPatterns([{ source: '^(a+)+$', pointer: '#/components/schemas/Sku/pattern' }], deps.lasting);
 * // ['#/components/schemas/Sku/pattern: pattern "^(a+)+$" risks catastrophic backtracking (exponential); …']
 */
export function refusedPatterns(patterns: readonly FoundPattern[], lasting: SnapshotScope): string[] {
  const verdicts = lasting.memo('contract-validation:redos-verdicts', () => new Map<string, Verdict>());
  const unjudged = [...new Set(patterns.map((found) => found.source).filter((source) => !verdicts.has(source)))];
  if (unjudged.length > 0) judgeAll(unjudged).forEach((verdict, i) => verdicts.set(unjudged[i]!, verdict));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { source, pointer } of patterns) {
    // Components are converted once per direction: one problem per location.
    if (seen.has(pointer)) continue;
    seen.add(pointer);
    const verdict = verdicts.get(source)!;
    if (!verdict.safe) problems.push(`${pointer}: pattern ${JSON.stringify(source)} ${verdict.reason}`);
  }
  return problems;
}
