/** The access log: JSON lines, batched through an off-heap buffer, nothing lost on flush or close. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { accessRecord } from '../support/access-records.js';
import { captureLines } from '../support/gateway-harness.js';
import { createAccessLog } from '../../gateway/logging.js';
import type { AccessRecord } from '../../policies/index.js';

const base: AccessRecord = accessRecord({
  time: '2026-11-26T10:00:00.000Z',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  requestId: '00f067aa0ba902b7',
  api: 'erp-sales',
  operation: 'searchSaleOrders',
  method: 'POST',
  path: '/erp-sales/v1/sale.order/search_read?x=1',
});

describe('access log', () => {
  it('writes one JSON line per record, batched, and everything pending on flush', async () => {
    const out = captureLines();
    const log = createAccessLog({ stream: out.stream, flushIntervalMs: 10_000 });
    for (let i = 0; i < 5; i++) log.write({ ...base, status: 200 + i });
    assert.equal(out.lines().length, 0, 'held until the batch is written');
    log.flush();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out.lines().map((l) => (JSON.parse(l) as AccessRecord).status), [200, 201, 202, 203, 204]);
    const batched = createAccessLog({ stream: out.stream, batchSize: 3, flushIntervalMs: 10_000 });
    for (let i = 0; i < 3; i++) batched.write(base);
    await new Promise((r) => setImmediate(r));
    assert.equal(out.lines().length, 8, 'a full batch is written at once');
    await batched.close();
    await log.close();
  });
});

describe('access log buffer', () => {
  it('writes when the buffer fills and writes an oversize line on its own', async () => {
    const out = captureLines();
    const log = createAccessLog({ stream: out.stream, bufferBytes: 2048, flushIntervalMs: 10_000 });
    for (let i = 0; i < 6; i++) log.write({ ...base, status: 300 + i });
    log.write({ ...base, path: `/x?q=${'y'.repeat(3000)}` });
    await log.close();
    const statuses = out.lines().map((l) => (JSON.parse(l) as AccessRecord).status);
    assert.equal(statuses.length, 7);
    assert.deepEqual(statuses.slice(0, 6), [300, 301, 302, 303, 304, 305]);
  });
});

describe('access log file', () => {
  it('appends across many batches, reusing its buffers intact, and close waits until all is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-access-'));
    try {
      const file = join(dir, 'logs', 'access.log');
      mkdirSync(join(dir, 'logs'));
      writeFileSync(file, '{"kept":true}\n');
      // A 4 KiB buffer holds ~8 records: 5000 records make hundreds of batches queued on the
      // file at once, so a buffer handed back before the file wrote it would garble lines.
      const log = createAccessLog({ file, bufferBytes: 4096, flushIntervalMs: 10_000 });
      for (let i = 0; i < 5000; i++) log.write({ ...base, status: 200, latencyMs: i, path: `/erp-sales/v1/orders/${'é'.repeat(i % 7)}${i}` });
      await log.close();
      const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0);
      assert.deepEqual(JSON.parse(lines[0]!), { kept: true }, 'appended, not truncated');
      const records = lines.slice(1).map((line) => JSON.parse(line) as AccessRecord);
      assert.equal(records.length, 5000);
      assert.ok(records.every((record, i) => record.latencyMs === i && record.path.endsWith(`${'é'.repeat(i % 7)}${i}`)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('creates the directory of its file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-access-'));
    try {
      const file = join(dir, 'a', 'b', 'access.log');
      const log = createAccessLog({ file });
      log.write(base);
      await log.close();
      assert.equal((JSON.parse(readFileSync(file, 'utf8')) as AccessRecord).traceId, base.traceId);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
