import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { holdIdlePolling } from './run.js';

const DEVICE = '/dev/cpu_dma_latency';

/** The kernel's current aggregate CPU latency request, in µs (reading the device returns it). */
function currentLatencyUs(): number {
  return readFileSync(DEVICE).readInt32LE(0);
}

test('the bench holds the PM QoS latency request at 0 until it releases it, or says why it cannot', () => {
  const idle = holdIdlePolling();
  try {
    if (existsSync(DEVICE) && process.getuid?.() === 0) {
      assert.equal(idle.held, true, idle.note);
      assert.equal(currentLatencyUs(), 0);
    } else {
      assert.equal(idle.held, false);
      assert.match(idle.note, /^idle CPUs may halt \(PM QoS unavailable: E[A-Z]+\)$/);
    }
  } finally {
    idle.release();
  }
  if (idle.held) assert.ok(currentLatencyUs() > 0, 'the request is dropped once released');
});
