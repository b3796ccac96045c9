import assert from 'node:assert/strict';
import { test } from 'node:test';
import { medianInterval } from './run.js';

test('the interval of the median is the 3rd smallest to 3rd largest of ten pairs, at 89 %', () => {
  const interval = medianInterval([9, -4, 3, -2, 0, 5, -1, 1, 0.5, 2]);
  assert.deepEqual({ ...interval, coverage: Number(interval?.coverage.toFixed(4)) }, { low: -1, high: 3, coverage: 0.8906 });
});

test('more pairs narrow it; too few give none', () => {
  const twenty = Array.from({ length: 20 }, (_, i) => i);
  // Binomial(20, 1/2): P(X <= 5) = 0.0207, P(X <= 6) = 0.0577, so k = 7 keeps 88.5 %.
  const interval = medianInterval(twenty);
  assert.equal(interval?.low, 6);
  assert.equal(interval?.high, 13);
  assert.ok(Math.abs(interval!.coverage - 0.8847) < 1e-4);
  assert.equal(medianInterval([1, 2, 3, 4]), undefined);
});
