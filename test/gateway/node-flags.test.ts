/**
 * @module The V8 flags a gateway node runs with: the npm scripts that start a node carry exactly
 * `GATEWAY_NODE_FLAGS`, node accepts them and they take effect, and a node started without them
 * says which are missing (the footprint test starts `gateway/main.ts` bare and sees the warning).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GATEWAY_NODE_FLAGS, missingNodeFlags } from '../../gateway/node-flags.js';
import { TARGETS } from '../bench/run.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const scripts = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The flags an npm script gives node before `--import`. */
function flagsOf(script: string): string[] {
  const words = script.split(/\s+/);
  assert.equal(words[0], 'node', script);
  return words.slice(1, words.indexOf('--import'));
}

/** The young generation's size in a fresh node started with `flags`, in MB. */
function newSpaceMb(flags: readonly string[]): number {
  const code = "process.stdout.write(String(require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size))";
  return Number(execFileSync(process.execPath, [...flags, '-e', code], { encoding: 'utf8' })) / 2 ** 20;
}

describe('gateway node flags', () => {
  it('are the flags `npm run gateway` and `npm start` give node', () => {
    assert.match(scripts.gateway ?? '', /--import tsx gateway\/main\.ts$/);
    assert.deepEqual(flagsOf(scripts.gateway ?? ''), [...GATEWAY_NODE_FLAGS]);
    assert.deepEqual(flagsOf(scripts.start ?? ''), [...GATEWAY_NODE_FLAGS]);
  });

  it('are the flags the benchmark starts its gateway row with', () => {
    const gateway = TARGETS.find((target) => target.name === 'gateway');
    assert.deepEqual(gateway?.nodeArgs, [...GATEWAY_NODE_FLAGS]);
  });

  it('are accepted by node and keep the young generation at 16 MB from the start', () => {
    assert.ok(newSpaceMb(GATEWAY_NODE_FLAGS) >= 16, 'new space below 16 MB with the flags');
    // The probe sees a difference: node's default starts (and, after a quiet spell, shrinks) it at 1 MB.
    assert.ok(newSpaceMb([]) < 16);
  });

  it('names exactly the ones a process was started without', () => {
    assert.deepEqual(missingNodeFlags([]), [...GATEWAY_NODE_FLAGS]);
    assert.deepEqual(missingNodeFlags(['--import', 'tsx', ...GATEWAY_NODE_FLAGS]), []);
    assert.deepEqual(missingNodeFlags(['--no-memory-reducer']), ['--no-flush-bytecode', '--min-semi-space-size=16']);
  });
});
