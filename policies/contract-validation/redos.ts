/**
 * @module The ReDoS gate: every regular expression a contract's schemas use is checked with
 * recheck before the snapshot is accepted. ajv runs patterns with V8's backtracking engine on
 * caller-controlled strings, so one pattern like `^(a+)+$` lets a 30-character value hold the
 * event loop for seconds; that is refused when the snapshot compiles, never met on a request.
 */
import { createRequire } from 'node:module';
import type { SnapshotScope } from '../define-policy.js';
import type { FoundPattern } from './convert.js';

/** A pattern's verdict: safe, or why it is refused. */
type Verdict = { safe: true } | { safe: false; reason: string };

/** ajv compiles `pattern` with the `u` flag (its `unicodeRegExp` default), so that is what is checked. */
const FLAGS = 'u';
/** Budget per pattern. recheck answers typical contract patterns in milliseconds; this bounds the odd one. */
const CHECK_TIMEOUT_MS = 2000;

type Recheck = typeof import('recheck');

/**
 * recheck is loaded on the first pattern to judge, not with the module: it is ~9 MB of heap
 * (a compiled Scala library) that every major GC would mark for the gateway's lifetime, also
 * in gateways that never validate a pattern. It is CommonJS, so `require` loads it in step
 * with the synchronous snapshot compile (and caches it).
 */
const requireCjs = createRequire(import.meta.url);

function judge(source: string): Verdict {
  let diagnostics: ReturnType<Recheck['checkSync']>;
  try {
    diagnostics = (requireCjs('recheck') as Recheck).checkSync(source, FLAGS, { timeout: CHECK_TIMEOUT_MS });
  } catch (error) {
    return { safe: false, reason: `could not be analysed (${(error as Error).message})` };
  }
  if (diagnostics.status === 'safe') return { safe: true };
  if (diagnostics.status === 'vulnerable') {
    return { safe: false, reason: `risks catastrophic backtracking (${diagnostics.complexity.summary}); rewrite it without nested or overlapping quantifiers` };
  }
  // `unknown` (timeout, unsupported syntax, invalid pattern) is refused too: a pattern that
  // cannot be shown safe runs on untrusted input at every request, and the fix (a simpler
  // pattern) is in the contract author's hands, whereas a slow pattern stalls every caller.
  const error = diagnostics.error;
  const why = error.kind === 'timeout' ? `was not proven safe within ${CHECK_TIMEOUT_MS} ms` : `could not be analysed (${error.kind}${'message' in error ? `: ${error.message}` : ''})`;
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
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { source, pointer } of patterns) {
    // Components are converted once per direction: one problem per location.
    if (seen.has(pointer)) continue;
    seen.add(pointer);
    let verdict = verdicts.get(source);
    if (verdict === undefined) verdicts.set(source, (verdict = judge(source)));
    if (!verdict.safe) problems.push(`${pointer}: pattern ${JSON.stringify(source)} ${verdict.reason}`);
  }
  return problems;
}
