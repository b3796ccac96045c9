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

  it('counts the baseline\'s instructions per request under callgrind and reports them', { skip: missing, timeout: 900_000 }, async () => {
    const baseline = TARGETS.find((target) => target.role === 'baseline')!;
    const shape = SHAPES.find((s) => s.method === 'GET')!;
    // node under valgrind starts in ~30 s here, and took over 3 min when the VM's memory was slow.
    const count = await countInstructions(baseline, shape, { warmupRequests: 200, requests: 100, connections: 4, startTimeoutMs: 600_000 });
    assert.equal(count.target, baseline.name);
    assert.equal(count.requests, 100);
    // A proxied request is hundreds of thousands of instructions (about a million while V8 still
    // compiles, as it does this early); counted from the start instead of from the zeroing,
    // node's and tsx's start-up would add tens of millions per request.
    assert.ok(count.perRequest > 50_000 && count.perRequest < 5_000_000, `${count.perRequest} instructions per request`);
    // The main thread is one of the process's threads: counted apart, never more than all of them.
    assert.ok(count.mainPerRequest > 50_000 && count.mainPerRequest <= count.perRequest, `${count.mainPerRequest} of ${count.perRequest} on the main thread`);
    const text = formatInstructionReport({ node: process.versions.node, valgrind: 'valgrind-test', warmupRequests: 200, requests: 100, connections: 4, counts: [count] });
    const label = baseline.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(text, new RegExp(`^  ${label}\\s+[\\d,]+\\s+[\\d,]+$`, 'm'));
  });
});
