/** @module Equal-jitter backoff: doubling per attempt, capped, half of each step random. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { equalJitterBackoff } from '../../contracts/index.js';

describe('equalJitterBackoff', () => {
  it('doubles per attempt from the base, waits at least half a step and at most a whole one, and stops at the cap', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => equalJitterBackoff(n, 1000, 60_000, () => 0)), [500, 1000, 2000, 4000]);
    assert.deepEqual([1, 2, 3, 4].map((n) => equalJitterBackoff(n, 1000, 60_000, () => 1)), [1000, 2000, 4000, 8000]);
    assert.equal(equalJitterBackoff(3, 1000, 60_000, () => 0.5), 3000);
    assert.equal(equalJitterBackoff(40, 1000, 60_000, () => 1), 60_000);
    assert.equal(equalJitterBackoff(10_000, 2000, 900_000, () => 0), 450_000, 'no overflow to Infinity or NaN for huge attempt counts');
  });
});
