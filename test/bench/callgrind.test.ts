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

  it('lets later code placed inside a freed object\'s range win, keeping the old name only where nothing came since', () => {
    // A large validator at 0x1000–0x1400, freed; then code at 0x1100–0x1180 and 0x13c0–0x1440
    // (straddling its end), and one at 0x0f00–0x1010 straddling its start.
    const entries = parsePerfMap('1000 400 JS:*validate0 big.js:1:1\n1100 80 JS:*handle a.js:1:1\n13c0 80 JS:*after b.js:1:1\nf00 110 JS:*before c.js:1:1\n');
    assert.deepEqual(
      entries.map((entry) => [entry.start.toString(16), entry.end.toString(16), entry.name.split(' ')[0]]),
      [
        ['f00', '1010', 'JS:*before'],
        ['1010', '1100', 'JS:*validate0'],
        ['1100', '1180', 'JS:*handle'],
        ['1180', '13c0', 'JS:*validate0'],
        ['13c0', '1440', 'JS:*after'],
      ],
    );
    assert.equal(lookupPerfMap(entries, 0x1150), 'JS:*handle a.js:1:1');
    assert.equal(lookupPerfMap(entries, 0x1000), 'JS:*before c.js:1:1');
    assert.equal(lookupPerfMap(entries, 0x1200), 'JS:*validate0 big.js:1:1');
    assert.equal(lookupPerfMap(entries, 0x13ff), 'JS:*after b.js:1:1');
    // Placed over several at once: all of them inside go, the ends stay.
    const covered = parsePerfMap('100 10 A\n110 10 B\n120 10 C\n108 10 D\n');
    assert.deepEqual(covered.map((entry) => [entry.start.toString(16), entry.end.toString(16), entry.name]), [
      ['100', '108', 'A'],
      ['108', '118', 'D'],
      ['118', '120', 'B'],
      ['120', '130', 'C'],
    ]);
  });

  it('finds the main thread\'s dump among the threads\' files', () => {
    assert.deepEqual(threadDumps(['callgrind.out', 'callgrind.out.1-01', 'callgrind.out.1-12', 'other']), [
      { file: 'callgrind.out.1-01', thread: 1 },
      { file: 'callgrind.out.1-12', thread: 12 },
    ]);
  });
});
