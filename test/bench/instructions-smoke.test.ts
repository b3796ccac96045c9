/**
 * @module Smoke test for `npm run bench:instructions`: a server under callgrind answers, its
 * counters are zeroed and dumped, and the count is read (never asserting a figure beyond its
 * order of magnitude). Needs valgrind: missing, it says so, and fails under CI=true.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { callgrindSummary, countInstructions, formatInstructionReport } from './instructions.js';
import { SHAPES, TARGETS } from './run.js';

function hasValgrind(): boolean {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const missing = hasValgrind() ? false : 'valgrind is not installed (Debian package valgrind): the instruction bench cannot run here';
if (missing !== false) {
  process.stderr.write(`\n*** ${missing} ***\n\n`);
  if (process.env.CI === 'true') throw new Error(missing);
}

describe('instruction bench', () => {
  it('reads the total of a callgrind dump, and refuses a file without one', () => {
    assert.equal(callgrindSummary('version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 1493401148\n\nfn=(1) main\n'), 1493401148);
    assert.throws(() => callgrindSummary('events: Ir\ntotals: 12\n'), /no summary/);
  });

  it('reports both columns and the main thread\'s largest differences by function against the baseline', () => {
    const baseline = TARGETS.find((target) => target.role === 'baseline')!;
    const gateway = TARGETS.find((target) => target.role === 'candidate')!;
    const count = (target: typeof baseline, perRequest: number, mainPerRequest: number, functions: Array<{ name: string; perRequest: number }>) =>
      ({ target: target.name, label: target.label, shape: 'get-items', requests: 10, perRequest, mainPerRequest, functions });
    const text = formatInstructionReport({
      node: '20',
      valgrind: 'valgrind-test',
      warmupRequests: 1,
      requests: 10,
      connections: 1,
      counts: [
        count(baseline, 1000, 800, [{ name: 'shared', perRequest: 500 }, { name: 'JS:pipe', perRequest: 120 }]),
        count(gateway, 1300, 900, [{ name: 'shared', perRequest: 450 }, { name: 'JS:forward', perRequest: 200 }]),
      ],
    });
    assert.match(text, /^get-items\s+all threads\s+main thread$/m);
    assert.match(text, new RegExp(`^  ${gateway.label}\\s+1,300\\s+900  1\\.300x / 1\\.125x baseline \\(\\+300 / \\+100\\)$`, 'm'));
    const rows = text.split('\n').slice(text.split('\n').findIndex((line) => line.includes('main thread by function')) + 1);
    // Largest absolute difference first; a function on one side only counts from 0.
    assert.deepEqual(
      rows.map((line) => line.trim().split(/\s+/)),
      [
        ['+200', '0', '->', '200', 'JS:forward'],
        ['-120', '120', '->', '0', 'JS:pipe'],
        ['-50', '500', '->', '450', 'shared'],
      ],
    );
  });

  it('counts the baseline\'s instructions per request under callgrind and reports them', { skip: missing, timeout: 900_000 }, async () => {
    const baseline = TARGETS.find((target) => target.role === 'baseline')!;
    const shape = SHAPES.find((s) => s.method === 'GET')!;
    // node under valgrind starts in ~30 s here, and took over 3 min when the VM's memory was slow.
    const count = await countInstructions(baseline, shape, { warmupRequests: 200, requests: 100, connections: 4, functionsAbove: 100, startTimeoutMs: 600_000 });
    assert.equal(count.target, baseline.name);
    assert.equal(count.requests, 100);
    // A proxied request is hundreds of thousands of instructions (about a million while V8 still
    // compiles, as it does this early); counted from the start instead of from the zeroing,
    // node's and tsx's start-up would add tens of millions per request.
    assert.ok(count.perRequest > 50_000 && count.perRequest < 5_000_000, `${count.perRequest} instructions per request`);
    // The main thread is one of the process's threads: counted apart, never more than all of them.
    assert.ok(count.mainPerRequest > 50_000 && count.mainPerRequest <= count.perRequest, `${count.mainPerRequest} of ${count.perRequest} on the main thread`);
    // Per function: JIT code named through node's perf map, largest first, within the main thread's total.
    const functions = count.functions ?? [];
    assert.ok(functions.some((f) => f.name.startsWith('JS:')), `JavaScript functions named: ${functions.slice(0, 5).map((f) => f.name).join(', ')}`);
    assert.ok(functions.every((f, i) => f.perRequest >= 100 && (i === 0 || functions[i - 1]!.perRequest >= f.perRequest)));
    assert.ok(functions.reduce((sum, f) => sum + f.perRequest, 0) <= count.mainPerRequest);
    const text = formatInstructionReport({ node: process.versions.node, valgrind: 'valgrind-test', warmupRequests: 200, requests: 100, connections: 4, counts: [count] });
    const label = baseline.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(text, new RegExp(`^  ${label}\\s+[\\d,]+\\s+[\\d,]+$`, 'm'));
  });
});
