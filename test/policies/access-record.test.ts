import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createIsoClock } from '../../policies/access-record/policy.js';

test('the access record clock writes the same ISO time as Date#toISOString', () => {
  const iso = createIsoClock();
  const samples = [0, 999, 1000, 1_764_201_600_000, 1_764_201_600_001, 1_764_201_599_999, 1_798_761_599_999, 1_798_761_600_000, -1, -1001, 253_402_300_799_999, 253_402_300_800_000];
  // A run of consecutive milliseconds across second, minute, day and year boundaries, then jumps back.
  for (let ms = 1_798_761_598_990; ms < 1_798_761_601_010; ms++) samples.push(ms);
  samples.push(1_764_201_600_000, 1_764_201_600_000.7);
  for (const ms of samples) assert.equal(iso(ms), new Date(Math.floor(ms)).toISOString(), `at ${ms}`);
});
