/**
 * @module Reading callgrind dumps and node's perf map for the instruction bench's per-function
 * rows: self costs, call costs left to the callee, compressed names, JIT code named by address.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lookupPerfMap, nameJitCode, parseCallgrind, parsePerfMap } from './callgrind.js';
import { threadDumps } from './instructions.js';

// The shape callgrind writes (3.19, --dump-instr=no): compressed names, relative positions,
// a call's inclusive cost on the line after `calls=`, JIT code in anonymous memory (`???`).
const DUMP = [
  'version: 1',
  'creator: callgrind-3.19.0',
  'pid: 4242',
  'positions: line',
  'events: Ir',
  'summary: 800',
  '',
  'ob=(1) /usr/bin/node',
  'fl=(1) ???',
  'fn=(1) uv_run',
  '0 100',
  '+2 50',
  'cob=(2) ???',
  'cfi=(1)',
  'cfn=(2) 0x00007f0000001010',
  'calls=3 0',
  '* 600',
  '-1 10',
  'ob=(2)',
  'fn=(2)',
  '0 400',
  'fn=(3) 0x00007f0000001100',
  '0 150',
  'fn=(4) 0x00007f0000009000',
  '0 40',
  'ob=(3) /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30',
  'fn=(5) 0x00000000000a5760',
  '0 30',
  'ob=(1)',
  'fn=(1)',
  '0 20',
  '',
  'totals: 800',
].join('\n');

const PERF_MAP = [
  '7f0000001000 80 JS:~handleRequest file:///srv/gateway.js:10:3',
  '7f0000001100 40 JS:*handleRequest file:///srv/gateway.js:10:3',
  '7f0000002000 20 Builtin:ArgumentsAdaptorTrampoline',
  'not a line',
].join('\n');

describe('callgrind reading', () => {
  it('sums each function\'s self cost and leaves a call\'s cost to the callee', () => {
    const costs = parseCallgrind(DUMP);
    assert.equal(costs.get('uv_run'), 100 + 50 + 10 + 20);
    assert.equal(costs.get('0x00007f0000001010'), 400);
    assert.equal(costs.get('0x00007f0000001100'), 150);
    // An address in a stripped library is an offset into it, not JIT code.
    assert.equal(costs.get('libstdc++.so.6.0.30+0x00000000000a5760'), 30);
    let total = 0;
    for (const cost of costs.values()) total += cost;
    assert.equal(total, 800, 'self costs add up to the summary');
  });

  it('names JIT code through the perf map, one row per function whatever its tier', () => {
    const entries = parsePerfMap(PERF_MAP);
    assert.equal(entries.length, 3);
    assert.equal(lookupPerfMap(entries, 0x7f0000001000), 'JS:~handleRequest file:///srv/gateway.js:10:3');
    assert.equal(lookupPerfMap(entries, 0x7f000000107f), 'JS:~handleRequest file:///srv/gateway.js:10:3');
    assert.equal(lookupPerfMap(entries, 0x7f0000001080), undefined);
    const named = nameJitCode(parseCallgrind(DUMP), entries);
    assert.equal(named.get('JS:handleRequest file:///srv/gateway.js:10:3'), 400 + 150);
    assert.equal(named.get('(unmapped JIT code)'), 40);
    assert.equal(named.get('uv_run'), 180);
  });

  it('keeps the last line for a code range written twice', () => {
    const entries = parsePerfMap('7f00 10 JS:~old\n7f00 10 JS:*new\n');
    assert.deepEqual(entries.map((entry) => entry.name), ['JS:*new']);
  });

  it('finds the main thread\'s dump among the threads\' files', () => {
    assert.deepEqual(threadDumps(['callgrind.out', 'callgrind.out.1-01', 'callgrind.out.1-12', 'other']), [
      { file: 'callgrind.out.1-01', thread: 1 },
      { file: 'callgrind.out.1-12', thread: 12 },
    ]);
  });
});
